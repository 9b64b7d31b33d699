/* patscape views, shared core: DOM building, escaping, number formats, colours, errors.
 *
 * Every view of patscape (map, topic table, evolution, graph, document panel) is written once, in
 * patscape/web/, and runs in two deliveries: the served UI (`patscape serve`, data from the API:
 * data-served.js) and the offline report (one HTML file, data from its JSON block:
 * data-embedded.js). The files share the namespace `window.patscape`.
 *
 * Patent text is untrusted. It reaches the page only through text nodes (never parsed as HTML), and
 * text handed to plotly (hover, labels, legend), which reads a little HTML, goes through esc().
 */
(function () {
  'use strict';
  var P = window.patscape = window.patscape || {};

  function $(id) { return document.getElementById(id); }
  // el(tag, 'class names' | {attribute: value} | null, children): children are nodes or text
  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    if (typeof attrs === 'string') e.className = attrs;
    else if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (k === 'class') e.className = attrs[k];
        else if (k === 'title') e.title = attrs[k];
        else e.setAttribute(k, attrs[k]);
      });
    }
    add(e, children);
    return e;
  }
  function add(parent, children) {
    if (children == null) return parent;
    (Array.isArray(children) ? children : [children]).forEach(function (c) {
      if (c == null || c === false) return;
      parent.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)));
    });
    return parent;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  // A chart's place when it has nothing to draw: the chart removed (plotly forgets it), a message in its stead.
  function emptyPlot(div, message) {
    if (window.Plotly && div._fullLayout) window.Plotly.purge(div);
    clear(div);
    div.appendChild(el('p', 'empty', message));
    return Promise.resolve(false);
  }
  // Before a chart is drawn where a message was: the message goes.
  function plotReady(div) {
    Array.prototype.slice.call(div.childNodes || []).forEach(function (n) {
      if (n.tagName === 'P' && /(^|\s)empty(\s|$)/.test(n.className || '')) div.removeChild(n);
    });
    return div;
  }
  function str(v) { return v == null ? '' : String(v); }
  function isNum(v) { return typeof v === 'number' && isFinite(v); }
  function obj(v) { return v && typeof v === 'object' && !Array.isArray(v) ? v : {}; }
  function arr(v) { return Array.isArray(v) ? v : []; }
  function clip(s, n) { s = str(s); return s.length > n ? s.slice(0, n - 1) + '\u2026' : s; }
  // For plotly, which reads <br>, <b>, &amp; ... in text: make data text inert. Without a '<' no
  // tag (and so no attribute) exists, so quotes need nothing; plotly would show '&quot;' as is.
  function esc(s) { return str(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;'); }
  // Plain text wrapped into lines of about `width` characters, each escaped, joined with <br>.
  function wrapEsc(s, width, maxLen) {
    s = clip(str(s).replace(/\s+/g, ' ').trim(), maxLen);
    var lines = [], line = '';
    s.split(' ').forEach(function (word) {
      while (word.length > width) {             // long words and unspaced scripts (CJK)
        var room = width - line.length - (line ? 1 : 0);
        if (room < 8) { lines.push(line); line = ''; room = width; }
        line = (line ? line + ' ' : '') + word.slice(0, room);
        word = word.slice(room);
        lines.push(line); line = '';
      }
      if (!word) return;
      if (line && line.length + 1 + word.length > width) { lines.push(line); line = word; }
      else line = line ? line + ' ' + word : word;
    });
    if (line) lines.push(line);
    return lines.map(esc).join('<br>');
  }
  function fmtInt(v) { return isNum(v) ? Math.round(v).toLocaleString('en-US') : '\u2014'; }
  function fmtNum(v, d) { return isNum(v) ? v.toFixed(d == null ? 2 : d) : '\u2014'; }
  function fmtPct(v, d) { return isNum(v) ? (v * 100).toFixed(d == null ? 1 : d) + '%' : '\u2014'; }
  function fmtGrowth(v) { return isNum(v) ? (v > 0 ? '+' : '') + Math.round(v * 100) + '%' : '\u2014'; }
  function median(values) {
    if (!values.length) return null;
    values.sort(function (a, b) { return a - b; });
    var m = values.length >> 1;
    return values.length % 2 ? values[m] : (values[m - 1] + values[m]) / 2;
  }

  // ---------- colours: one per topic (golden-angle hues, so neighbouring ids differ) ----------
  function hex2(v) { var h = Math.round(Math.max(0, Math.min(255, v))).toString(16); return h.length < 2 ? '0' + h : h; }
  function hsl2hex(h, s, l) {
    s /= 100; l /= 100;
    var a = s * Math.min(l, 1 - l);
    function f(n) { var k = (n + h / 30) % 12; return 255 * (l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1))); }
    return '#' + hex2(f(0)) + hex2(f(8)) + hex2(f(4));
  }
  var GREY = '#b8bec8';
  var colourCache = {};
  function topicColour(c) {
    if (!isNum(c) || c < 0) return GREY;
    if (colourCache[c]) return colourCache[c];
    var hue = (c * 137.508 + 210) % 360;
    var light = [44, 56, 36][c % 3], sat = [70, 62, 78][Math.floor(c / 3) % 3];
    return (colourCache[c] = hsl2hex(hue, sat, light));
  }
  function dot(cluster) {
    var d = el('span', 'dot');
    d.style.background = cluster == null ? 'transparent' : topicColour(cluster);
    return d;
  }
  var LANG_COLOURS = ['#2f6db5', '#d2691e', '#2e9a5b', '#8a4fb8', '#c23b4a', '#b08a12', '#1c9aa6', '#6b6f7a'];
  var LANG_NAMES = { en: 'English', zh: 'Chinese', ja: 'Japanese', ko: 'Korean', de: 'German', fr: 'French',
                     es: 'Spanish', ru: 'Russian', it: 'Italian', pt: 'Portuguese', nl: 'Dutch', '?': 'unknown' };
  function langName(code) { var n = LANG_NAMES[code]; return n ? n + ' (' + code + ')' : str(code); }

  // ---------- errors ----------
  function showError(message) {
    var box = $('errors');
    if (!box) return;
    box.hidden = false;
    box.appendChild(el('div', null, String(message)));
  }
  function clearErrors() { var box = $('errors'); if (box) { clear(box); box.hidden = true; } }
  // Run one drawing step; a failure is shown on the page and does not stop the others.
  function step(name, fn) {
    try {
      var out = fn();
      if (out && typeof out.then === 'function') {
        return out.catch(function (err) { showError(name + ' could not be drawn: ' + (err && err.message ? err.message : err)); });
      }
      return out;
    } catch (err) { showError(name + ' could not be drawn: ' + (err && err.message ? err.message : err)); return null; }
  }

  function webglWorks() {
    try {
      var canvas = document.createElement('canvas');
      return !!(window.WebGLRenderingContext && (canvas.getContext('webgl') || canvas.getContext('experimental-webgl')));
    } catch (e) { return false; }
  }

  // Column-wise points (plain arrays, as JSON carries them) as the typed arrays the map draws.
  function columnsToPoints(columns, count, extra) {
    var cols = obj(columns), n = isNum(count) ? count : arr(cols.x).length;
    function col(name) { var a = cols[name]; return Array.isArray(a) && a.length === n ? a : null; }
    var xs = col('x'), ys = col('y'), cl = col('cluster'), pl = col('placed');
    if (!xs || !ys) n = 0;
    var x = new Float64Array(n), y = new Float64Array(n), cluster = new Int32Array(n), placed = pl ? new Uint8Array(n) : null;
    for (var i = 0; i < n; i++) {
      x[i] = isNum(xs[i]) ? xs[i] : NaN;
      y[i] = isNum(ys[i]) ? ys[i] : NaN;
      cluster[i] = cl && isNum(cl[i]) ? cl[i] : -1;
      if (placed) placed[i] = pl[i] ? 1 : 0;
    }
    var ids = col('id') || [];
    return Object.assign({ count: n, x: x, y: y, cluster: cluster, placed: placed,
                           id: ids.map(str), title: col('title'), date: col('date'), lang: col('lang') }, extra || {});
  }

  // ---------- the shared state of the page ----------
  // topics: normalised topic list (see data-served.js); labels: cluster -> label
  // levels: the node records of the levels above the topics (hierarchy.js), activeNode: {level, node}
  // subtopics: the node records of the level below the topics (parent: the topic), subtopicsOf: cluster -> them
  P.state = { topics: [], topicById: {}, subtopics: [], subtopicsOf: {}, activeTopic: null, activeNode: null, selected: null,
              hits: [], justPlaced: [] };
  function setTopics(list, levels, subtopics) {
    P.state.topics = arr(list);
    P.state.topicById = {};
    P.state.topics.forEach(function (t) { P.state.topicById[t.cluster] = t; });
    P.state.subtopics = arr(subtopics).filter(function (s) { return s && P.state.topicById[s.parent]; });
    P.state.subtopicsOf = {};
    P.state.subtopics.forEach(function (s) { (P.state.subtopicsOf[s.parent] = P.state.subtopicsOf[s.parent] || []).push(s); });
    if (P.hierarchy) P.hierarchy.set(levels, P.state.topics);
  }
  function topicLabel(cluster) {
    if (!isNum(cluster) || cluster < 0) return 'outlier';
    var t = P.state.topicById[cluster];
    return t && t.label ? str(t.label) : 'topic ' + cluster;
  }

  P.core = {
    $: $, el: el, add: add, clear: clear, emptyPlot: emptyPlot, plotReady: plotReady, str: str, isNum: isNum, obj: obj, arr: arr, clip: clip, esc: esc,
    wrapEsc: wrapEsc, fmtInt: fmtInt, fmtNum: fmtNum, fmtPct: fmtPct, fmtGrowth: fmtGrowth, median: median,
    GREY: GREY, topicColour: topicColour, dot: dot, LANG_COLOURS: LANG_COLOURS, langName: langName,
    showError: showError, clearErrors: clearErrors, step: step, webglWorks: webglWorks,
    setTopics: setTopics, topicLabel: topicLabel, columnsToPoints: columnsToPoints,
    plotConfig: { responsive: true, displaylogo: false, scrollZoom: true, modeBarButtonsToRemove: ['select2d', 'lasso2d'] },
    FONT: { family: 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", sans-serif',
            size: 12, color: '#1d2330' }
  };
})();
