// SPDX-License-Identifier: MIT
// libtparker for WebAssembly: link with `--pre-js tparker-env.js`
// (pkg-config --libs tparker names it). Emscripten gives a program an
// environment of its own, not node's, so TPARKER_BACKEND and the other
// TPARKER_* variables would never reach the library: copy them, and only
// them, from node's process.env before the C runtime builds environ (on the
// main thread; other threads share it). Elsewhere (a browser) set them in
// Module.preRun with ENV.TPARKER_BACKEND = '...'. ENV exists only when the
// program reads its environment, hence the typeof test.
Module['preRun'] = Module['preRun'] || [];
if (typeof Module['preRun'] == 'function') Module['preRun'] = [Module['preRun']];
Module['preRun'].push(function () {
  if (typeof ENV != 'object' || typeof process != 'object' || !process.env) return;
  for (var name in process.env) {
    if (name.indexOf('TPARKER_') == 0) ENV[name] = process.env[name];
  }
});
