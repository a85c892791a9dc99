// SPDX-License-Identifier: MIT
// libtparker for WebAssembly: link with `--pre-js tparker-noliftoff.js`
// (pkg-config --libs tparker names it). node 20's V8 (11.3) compiles a
// module first with its baseline compiler, Liftoff, which clobbers values
// held in registers across memory.atomic.wait32: a parked thread comes back
// with a wrong loop counter or pointer. Turning Liftoff off before the module
// is compiled leaves only the optimising compiler, which is right. V8 flags
// hold for the whole process, workers included; NODE_OPTIONS may not carry
// this one, hence a flag set from here. Browsers run no such script: there
// the engine's own release decides.
if (typeof process == 'object' && process.versions && process.versions.node) {
  require('v8').setFlagsFromString('--no-liftoff');
}
