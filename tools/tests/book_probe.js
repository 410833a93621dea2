// The browser test's probe (tools/tests/test_book_browser.sh). The test copies the site and puts
// this script first in every page's head. In a page it catches errors as they happen, and once the
// page has loaded it measures it and posts one verdict to the parent window: the page's ids and
// relative links (the shell checks them across pages), and its problems: a script or console
// error, a resource that did not load, an element wider than the viewport that no scrolling box
// holds, a `{{` left in the text; on the index, a search that finds nothing. In run.html (the
// top window) it loads every page, one at a time, in an iframe of each width in WIDTHS, and
// writes the verdicts into <pre id="verdict">: one line each, "KIND PAGE WIDTH detail".
(function () {
  'use strict';
  if (window.parent === window) { runAll(); return; }

  var lines = [];
  function note(kind, detail) { lines.push(kind + ' ' + String(detail).replace(/\s+/g, ' ').slice(0, 240)); }

  window.addEventListener('error', function (e) {
    var t = e.target;
    if (t && t !== window && t.nodeType === 1) note('error', 'did not load: ' + (t.getAttribute('src') || t.getAttribute('href')));
    else note('error', (e.message || 'script error') + ' (' + (e.filename || '').split('/').pop() + ':' + e.lineno + ')');
  }, true);
  window.addEventListener('unhandledrejection', function (e) { note('error', 'unhandled rejection: ' + e.reason); });
  var consoleError = console.error;
  console.error = function () {
    note('error', 'console.error: ' + Array.prototype.join.call(arguments, ' '));
    return consoleError.apply(console, arguments);
  };

  function describe(el) {
    var s = el.tagName.toLowerCase();
    if (el.id) s += '#' + el.id;
    if (typeof el.className === 'string' && el.className) s += '.' + el.className.trim().split(/\s+/).join('.');
    var text = (el.textContent || '').trim().slice(0, 50);
    return s + (text ? ' "' + text + '"' : '');
  }

  // An ancestor that scrolls or clips sideways and itself fits holds EL.
  function held(el, width) {
    for (var a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      var o = getComputedStyle(a).overflowX;
      if (o === 'auto' || o === 'scroll' || o === 'hidden' || o === 'clip') {
        var r = a.getBoundingClientRect();
        return r.left >= -1 && r.right <= width + 1;
      }
    }
    return false;
  }

  function measure() {
    // closed blocks (the reference solutions, the phone's contents) are measured open
    document.querySelectorAll('details').forEach(function (d) { d.open = true; });
    var width = document.documentElement.clientWidth, wide = 0;
    if (document.documentElement.scrollWidth > width + 1)
      note('wide', 'the page scrolls sideways: ' + document.documentElement.scrollWidth + ' px in a ' + width + ' px viewport');
    var all = document.body.querySelectorAll('*');
    for (var i = 0; i < all.length && wide < 5; i++) {
      var r = all[i].getBoundingClientRect();
      if (r.width === 0 || (r.right <= width + 1 && r.left >= -1) || held(all[i], width)) continue;
      var p = all[i].parentElement.getBoundingClientRect();
      if (all[i].parentElement !== document.body && (p.right > width + 1 || p.left < -1)) continue;  // its parent is named
      note('wide', describe(all[i]) + ' spans ' + Math.round(r.left) + '..' + Math.round(r.right) + ' px');
      wide++;
    }
    var walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT), node;
    while ((node = walk.nextNode())) {
      var at = node.nodeValue.indexOf('{{');
      if (at >= 0 && !node.parentElement.closest('pre, code, script, style'))
        note('braces', 'unexpanded: ' + node.nodeValue.slice(at, at + 80));
    }
    document.querySelectorAll('img').forEach(function (img) {
      if (img.complete && img.naturalWidth === 0) note('error', 'image did not load: ' + img.getAttribute('src'));
    });
    document.querySelectorAll('[id]').forEach(function (el) { note('id', el.id); });
    document.querySelectorAll('a[href], img[src], link[href], script[src]').forEach(function (el) {
      var url = el.getAttribute('href') || el.getAttribute('src');
      if (!/^[a-z][a-z0-9+.-]*:/i.test(url) && url.charAt(0) !== '/' && !/probe\.js$/.test(url)) note('link', url);
    });
    var page = location.pathname.split('/').pop(), search = document.getElementById('book-search');
    function post() { parent.postMessage({ page: page, width: width, lines: lines }, '*'); }
    if (page !== 'index.html' || !search) { post(); return; }
    // the search, once: a word every chapter uses must find sections
    search.value = 'cache';
    search.dispatchEvent(new Event('input'));
    setTimeout(function () {
      if (!document.querySelector('#book-results li a')) note('error', 'the search box found nothing for "cache"');
      post();
    }, 1000);
  }
  window.addEventListener('load', function () { setTimeout(measure, 100); });

  function runAll() {
    if (!window.PAGES) return;
    var queue = [], verdict = [], frame = null, current = null, timer = 0;
    window.WIDTHS.forEach(function (w) { window.PAGES.forEach(function (p) { queue.push([p, w]); }); });
    window.addEventListener('message', function (e) {
      if (!current || !e.data || e.data.page !== current[0]) return;
      clearTimeout(timer);
      if (e.data.width !== current[1]) verdict.push('wide ' + current[0] + ' ' + current[1] + ' laid out ' + e.data.width + ' px wide');
      e.data.lines.forEach(function (l) {
        var sp = l.indexOf(' ');
        verdict.push(l.slice(0, sp) + ' ' + current[0] + ' ' + current[1] + l.slice(sp));
      });
      next();
    });
    function next() {
      if (frame) frame.remove();
      current = queue.shift();
      if (!current) {
        var pre = document.createElement('pre');
        pre.id = 'verdict';
        pre.textContent = verdict.join('\n') + '\nend\n';
        document.body.appendChild(pre);
        return;
      }
      frame = document.createElement('iframe');
      frame.style.cssText = 'border:0;width:' + current[1] + 'px;height:900px';
      frame.src = current[0];
      document.body.appendChild(frame);
      timer = setTimeout(function () {
        verdict.push('error ' + current[0] + ' ' + current[1] + ' no verdict: the page did not finish loading');
        next();
      }, 20000);
    }
    next();
  }
})();
