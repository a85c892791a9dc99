// SPDX-License-Identifier: MIT
// A test's pre-js: under node, make the runtime's main thread one that may
// not block, as a web page's main thread is, so that the choice (made there,
// by the library's constructor) meets what it meets in a browser. Emscripten
// learns it from the canBlock argument of _emscripten_thread_init, which the
// main thread passes as !ENVIRONMENT_IS_WEB: the export is wrapped to pass 0.
// Workers (pthreads) keep their own answer, 1.
if (!Module['ENVIRONMENT_IS_PTHREAD']) {
  Module['instantiateWasm'] = function (imports, receive) {
    var module = new WebAssembly.Module(getBinary(wasmBinaryFile));
    var instance = new WebAssembly.Instance(module, imports);
    var exports = Object.assign({}, instance.exports);
    var init = exports['_emscripten_thread_init'];
    exports['_emscripten_thread_init'] = function (tb, isMainBrowser, isMainRuntime, canBlock) {
      var rest = Array.prototype.slice.call(arguments, 4);
      return init.apply(null, [tb, isMainBrowser, isMainRuntime, isMainRuntime ? 0 : canBlock].concat(rest));
    };
    receive({exports: exports}, module);
    return exports;
  };
}
