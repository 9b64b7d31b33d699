/* patscape views: the topic hierarchy. A run's topics may have levels above them (fields, then
 * technologies, ...: level 0 is the top, the topics are the finest level, index levels.length).
 * This file keeps those levels, answers "which node of level L holds topic c", names the levels,
 * and wires the map's level controls (colour by a level, labels by zoom or by a level) in both
 * pages. A run made before hierarchies, or one whose levels do not add up, has no levels: every
 * view then works on its topics alone, as before.
 */
(function () {
  'use strict';
  var P = window.patscape = window.patscape || {};
  var C = P.core, isNum = C.isNum, arr = C.arr, str = C.str, el = C.el;

  var H = { levels: [], byLevel: [], paths: {} };
  var NAMES = { 2: ['field', 'topic'], 3: ['field', 'technology', 'topic'], 4: ['field', 'area', 'technology', 'topic'] };
  var PLURAL = { field: 'fields', area: 'areas', technology: 'technologies', topic: 'topics' };

  // levels: [[node records]] top first; topics: the normalised topics (each with `parent`)
  function set(levels, topics) {
    H.levels = arr(levels).map(function (level) { return arr(level).filter(function (n) { return n && isNum(n.node); }); });
    H.byLevel = H.levels.map(function (level) { var m = {}; level.forEach(function (n) { m[n.node] = n; }); return m; });
    H.paths = {};
    var ok = H.levels.length > 0 && H.levels.every(function (l) { return l.length; });
    arr(topics).forEach(function (t) {
      if (!ok) return;
      var path = [], parent = t.parent;
      for (var lv = H.levels.length - 1; lv >= 0; lv--) {
        var n = isNum(parent) ? H.byLevel[lv][parent] : null;
        if (!n) { ok = false; return; }
        path.unshift(n.node);
        parent = n.parent;
      }
      H.paths[t.cluster] = path;
    });
    if (!ok) { H.levels = []; H.byLevel = []; H.paths = {}; }
  }
  function top() { return H.levels.length; }   // the topics' level index
  function has() { return H.levels.length > 0; }
  // the node of `level` that holds topic `cluster` (-1: an outlier or unknown); the topic itself at its level
  function ancestor(cluster, level) {
    if (!isNum(cluster) || cluster < 0) return -1;
    if (level == null || level >= H.levels.length) return cluster;
    var path = H.paths[cluster];
    return path ? path[level] : -1;
  }
  function levelName(level) {
    var names = NAMES[H.levels.length + 1];
    if (level >= H.levels.length) return 'topic';
    return names ? names[level] : 'level ' + level;
  }
  function plural(level) { var n = levelName(level); return PLURAL[n] || n + 's'; }
  function node(level, id) { return level < H.levels.length ? H.byLevel[level][id] || null : P.state.topicById[id] || null; }
  function label(level, id) {
    if (level >= H.levels.length) return C.topicLabel(id);
    var n = node(level, id);
    return n && n.label ? str(n.label) : levelName(level) + ' ' + id;
  }
  function nodes(level) { return level < H.levels.length ? H.levels[level] : P.state.topics; }
  function idOf(level, rec) { return level < H.levels.length ? rec.node : rec.cluster; }
  function children(level, id) {
    return nodes(level + 1).filter(function (rec) { return rec.parent === id; });
  }
  // The colour of a topic or node as the map shows it: that of its node at the level the map is
  // coloured by, when that level is not finer than its own; else its own colour.
  function colour(level, id) {
    if (!isNum(id) || id < 0) return C.GREY;
    var by = P.mapView && P.mapView.colouring ? P.mapView.colouring() : 'topic';
    var k = /^level:\d+$/.test(by) ? Number(by.slice(6)) : null;
    if (k == null || k > level) return C.topicColour(id);
    if (level >= H.levels.length) return C.topicColour(ancestor(id, k));
    for (var lv = level, n = node(level, id); n && lv > k; lv--) n = node(lv - 1, n.parent);
    return n ? C.topicColour(n.node) : C.GREY;
  }
  function dot(level, id) {
    var d = el('span', 'dot');
    d.style.background = colour(level, id);
    return d;
  }
  // The topics under the map's active selection (a topic, or a node of a level), or null.
  function activeClusters() {
    var S = P.state, out = new Set();
    if (S.activeNode && has()) {
      S.topics.forEach(function (t) { if (ancestor(t.cluster, S.activeNode.level) === S.activeNode.node) out.add(t.cluster); });
      return out;
    }
    if (S.activeTopic == null) return null;
    out.add(S.activeTopic);
    return out;
  }

  // ---------- the map's controls: colour by a level, labels by zoom or of one level, a key ----------
  function option(value, text) { return el('option', { value: value }, text); }
  function colourKey(box, level) {
    if (!box) return;
    C.clear(box);
    if (level == null || level >= H.levels.length) return;
    nodes(level).slice().sort(function (a, b) { return b.size - a.size; }).forEach(function (n) {
      var sw = el('span', 'swatch');
      sw.style.background = C.topicColour(n.node);
      box.appendChild(el('span', { class: 'key-item', title: label(level, n.node) }, [sw, C.clip(label(level, n.node), 36)]));
    });
  }
  // colour: the select of colours ("level:K", "topic", "lang"); labels: the select of label levels
  function wireControls(colour, labels, key, opts) {
    opts = opts || {};
    H.colourSelect = colour;
    H.keyBox = key;
    if (colour) {
      C.clear(colour);
      H.levels.forEach(function (l, k) { colour.appendChild(option('level:' + k, levelName(k) + ' (' + l.length + ')')); });
      colour.appendChild(option('topic', 'topic'));
      if (opts.lang) colour.appendChild(option('lang', 'language'));
      colour.value = has() ? 'level:0' : 'topic';
      colour.disabled = !has() && !opts.lang;
    }
    if (labels) {
      C.clear(labels);
      labels.appendChild(option('auto', has() ? 'by zoom' : 'topics'));
      if (has()) H.levels.concat([null]).forEach(function (l, k) { labels.appendChild(option(String(k), plural(k))); });
      if (has() && C.arr(P.state.subtopics).length) labels.appendChild(option(String(H.levels.length + 1), 'sub-topics'));
      labels.appendChild(option('off', 'none'));
      labels.value = 'auto';
    }
    function applyColour() {
      var v = colour ? colour.value : 'topic';
      var level = /^level:\d+$/.test(v) ? Number(v.slice(6)) : null;
      if (v === 'lang' && opts.langKey) opts.langKey(key); else colourKey(key, level);
      var drawn = P.mapView.colourBy(v === 'lang' ? 'lang' : 'topic', level);
      if (P.topicTable.recolour) P.topicTable.recolour();
      return drawn;
    }
    if (colour && !colour._patscapeWired) colour.addEventListener('change', function () { C.step('The map', applyColour); });
    if (labels && !labels._patscapeWired) labels.addEventListener('change', function () {
      C.step('The map', function () { return P.mapView.labelLevel(labels.value === 'auto' || labels.value === 'off' ? labels.value : Number(labels.value)); });
    });
    if (colour) colour._patscapeWired = true;
    if (labels) labels._patscapeWired = true;
    if (colour) { var v = colour.value; colourKey(key, /^level:/.test(v) ? Number(v.slice(6)) : null); }
    P.mapView.colourBy('topic', has() ? 0 : null, true);
    if (P.topicTable && P.topicTable.recolour) P.topicTable.recolour();
  }

  // the key of the map's colours again (e.g. a node renamed), when it shows a level's nodes
  function refreshKey() {
    var v = H.colourSelect ? H.colourSelect.value : '';
    if (/^level:\d+$/.test(v)) colourKey(H.keyBox, Number(v.slice(6)));
  }

  P.hierarchy = {
    refreshKey: refreshKey,
    set: set, has: has, top: top, ancestor: ancestor, levelName: levelName, plural: plural, node: node, label: label,
    nodes: nodes, idOf: idOf, children: children, activeClusters: activeClusters, wireControls: wireControls, colour: colour, dot: dot,
    path: function (cluster) { return H.paths[cluster] ? H.paths[cluster].slice() : null; }
  };
})();
