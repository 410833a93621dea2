// The book's only script (tools/mkbook copies it to the site): opens the contents beside the text
// on a wide screen, and searches the book offline in assets/search-index.js, which mkbook writes
// ([page, anchor, chapter, heading, text] per section) and which is loaded on first use.
(function () {
  'use strict';
  var toc = document.getElementById('book-toc');
  if (toc && window.matchMedia('(min-width: 1100px)').matches) toc.open = true;

  var input = document.getElementById('book-search');
  var list = document.getElementById('book-results');
  if (!input || !list) return;
  var requested = false, pending = null;

  function withIndex(then) {
    if (window.BOOK_INDEX) { then(); return; }
    pending = then;  // the latest wish runs once the index is there
    if (requested) return;
    requested = true;
    var script = document.createElement('script');
    script.src = 'assets/search-index.js';
    script.onload = function () { pending(); };
    document.head.appendChild(script);
  }

  // Every word must appear; a word in the heading counts more than one in the text.
  function score(entry, words) {
    var heading = (entry[3] + ' ' + entry[2]).toLowerCase(), text = entry[4].toLowerCase(), total = 0;
    for (var i = 0; i < words.length; i++) {
      var inHeading = heading.indexOf(words[i]) >= 0, inText = text.indexOf(words[i]) >= 0;
      if (!inHeading && !inText) return 0;
      total += (inHeading ? 10 : 0) + (inText ? 1 : 0);
    }
    return total;
  }

  function snippet(text, word) {
    var at = text.toLowerCase().indexOf(word), from = Math.max(0, at - 60);
    if (at < 0) return text.slice(0, 150) + (text.length > 150 ? '…' : '');
    return (from > 0 ? '…' : '') + text.slice(from, from + 170) + (from + 170 < text.length ? '…' : '');
  }

  function item(href, title, detail) {
    var li = document.createElement('li'), a = document.createElement('a');
    a.href = href;
    var strong = document.createElement('strong');
    strong.textContent = title;
    a.appendChild(strong);
    if (detail) {
      var small = document.createElement('small');
      small.textContent = detail;
      a.appendChild(small);
    }
    li.appendChild(a);
    return li;
  }

  function show() {
    var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
    list.textContent = '';
    if (!words.length || words.join('').length < 2) { list.hidden = true; return; }
    var hits = [];
    window.BOOK_INDEX.forEach(function (entry) {
      var s = score(entry, words);
      if (s) hits.push([s, entry]);
    });
    hits.sort(function (a, b) { return b[0] - a[0]; });
    hits.slice(0, 15).forEach(function (hit) {
      var e = hit[1], li = item(e[0] + (e[1] ? '#' + e[1] : ''), e[3] || e[2], e[3] && e[3] !== e[2] ? e[2] : '');
      var p = document.createElement('p');
      p.textContent = snippet(e[4], words[0]);
      li.firstChild.appendChild(p);
      list.appendChild(li);
    });
    if (!hits.length) {
      var none = document.createElement('li');
      none.className = 'none';
      none.textContent = 'Nothing in the book matches “' + input.value + '”.';
      list.appendChild(none);
    }
    list.hidden = false;
  }

  input.addEventListener('focus', function () { withIndex(function () {}); });
  input.addEventListener('input', function () { withIndex(show); });
  input.addEventListener('keydown', function (e) {
    var first = list.querySelector('a');
    if (e.key === 'Escape') { list.hidden = true; input.blur(); }
    if (e.key === 'Enter' && first) first.click();
  });
  document.addEventListener('click', function (e) {
    if (!e.target.closest || !e.target.closest('.search')) list.hidden = true;
  });
  document.addEventListener('keydown', function (e) {
    if (e.key === '/' && document.activeElement !== input) { e.preventDefault(); input.focus(); }
  });
})();
