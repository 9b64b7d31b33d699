/* patscape views, data layer of the offline report: everything comes from the page's JSON block
 * (the script element of type application/json with id "data", written by patscape/report.py). Same calls and
 * shapes as data-served.js; the report has no search and no uploads, and a patent's neighbours
 * are its nearest points on the map (the report carries no vectors).
 */
(function () {
  'use strict';
  var P = window.patscape = window.patscape || {};
  var C = P.core;
  var isNum = C.isNum, obj = C.obj, arr = C.arr, str = C.str;

  var DATA = null;
  function data() {
    if (DATA === null) DATA = obj(JSON.parse(document.getElementById('data').textContent));
    return DATA;
  }

  function termsOf(list) {
    return arr(list).map(function (k) { return Array.isArray(k) ? k[0] : (k && typeof k === 'object' ? k.term : k); })
      .filter(function (k) { return k != null && k !== ''; }).map(str);
  }
  // A stored topic (as a run keeps it) in the shape the API gives.
  function topicOf(t, metrics) {
    var byLang = {};
    if (Array.isArray(t.keywords)) byLang[''] = termsOf(t.keywords);
    else Object.keys(obj(t.keywords)).forEach(function (lang) { var terms = termsOf(t.keywords[lang]); if (terms.length) byLang[lang] = terms; });
    var languages = obj(t.languages);
    if (!Object.keys(languages).length) languages = obj(obj(obj(obj(metrics.language_mix).topics)[String(t.cluster)]).languages);
    var main = Object.keys(languages).sort(function (a, b) { return languages[b] - languages[a]; })[0];
    if (!byLang[main]) main = Object.keys(byLang)[0];
    var codes = [];
    Object.keys(obj(t.codes)).forEach(function (scheme) {
      arr(t.codes[scheme]).forEach(function (c) {
        if (Array.isArray(c)) codes.push({ scheme: scheme, code: str(c[0]), share: isNum(c[1]) ? c[1] : null, title: c[2] != null ? str(c[2]) : null });
        else if (c != null) codes.push({ scheme: scheme, code: str(c), share: null });
      });
    });
    var evo = obj(t.evolution);
    return {
      cluster: t.cluster, label: str(t.label), size: isNum(t.size) ? t.size : 0, placed: 0,
      keywords: main != null ? byLang[main] || [] : [], keywords_by_language: byLang, codes: codes,
      representatives: arr(t.representatives).map(function (r) {
        return r && typeof r === 'object' ? { id: str(r.id), title: str(r.title) } : { id: str(r), title: '' };
      }),
      languages: languages, growth: evo.growth, momentum: evo.momentum, recent: evo.recent,
      corpus_growth: evo.corpus_growth, first_year: evo.first_year,
      peak_year: evo.peak_year, median_year: evo.median_year, per_year: obj(evo.per_year),
      parent: isNum(t.parent) ? t.parent : null
    };
  }
  // A node of a level above the topics, in the shape of a topic (with its level, node and children).
  function nodeOf(n) {   // (the run's language mix is by topic: a node has its own languages)
    var out = topicOf(Object.assign({}, n, { cluster: n.node }), {});
    delete out.cluster;
    return Object.assign(out, { level: n.level, node: n.node, children: arr(n.children).filter(isNum) });
  }

  var cache = {};
  function topics() {
    if (!cache.topics) {
      var metrics = obj(data().metrics);
      cache.topics = arr(data().topics).filter(function (t) { return t && typeof t === 'object' && isNum(t.cluster); })
        .map(function (t) { return topicOf(t, metrics); });
    }
    return cache.topics;
  }
  function levels() {
    if (!cache.levels) {
      cache.levels = arr(data().levels).map(function (level) {
        return arr(level).filter(function (n) { return n && typeof n === 'object' && isNum(n.node); }).map(nodeOf);
      });
    }
    return cache.levels;
  }
  function subtopics() {
    if (!cache.subtopics) {
      cache.subtopics = arr(data().subtopics).filter(function (n) { return n && typeof n === 'object' && isNum(n.node) && isNum(n.parent); })
        .map(nodeOf);
    }
    return cache.subtopics;
  }
  function points() {
    if (!cache.points) {
      var block = obj(data().points);
      var cols = obj(block.columns);
      var depth = obj(data().hierarchy).depth;   // the sub-topics' column, where the run has them
      var subs = subtopics().length && isNum(depth) ? arr(cols['topic_l' + (depth - 1)]) : [];
      cache.points = C.columnsToPoints(cols, block.count, { run: obj(data().run).id, placedCount: 0,
                                                            cpc: arr(cols.cpc), ipc: arr(cols.ipc),
                                                            subtopic: subs.map(function (v) { return isNum(v) ? v : -1; }) });
    }
    return cache.points;
  }
  var indexById = null;
  function indexOf(id) {
    if (!indexById) {
      indexById = new Map();
      points().id.forEach(function (d, i) { indexById.set(d, i); });
    }
    return indexById.has(id) ? indexById.get(id) : -1;
  }

  function evolution() {
    var D = data(), list = topics();
    var years = arr(D.years).filter(isNum);
    if (!years.length) {
      var all = {};
      list.forEach(function (t) { Object.keys(t.per_year).forEach(function (y) { if (isFinite(+y)) all[+y] = true; }); });
      var keys = Object.keys(all).map(Number);
      if (keys.length) for (var y = Math.min.apply(null, keys); y <= Math.max.apply(null, keys); y++) years.push(y);
    }
    var partial = isNum(D.partial_year) ? D.partial_year : null;
    var dataTo = partial != null ? str(D.data_to) || null : null;
    if (partial != null && !dataTo) {  // the newest date of that year among the map's patents
      var dates = points().date || [], prefix = String(partial);
      dates.forEach(function (d) { d = str(d); if (d.slice(0, 4) === prefix && (!dataTo || d > dataTo)) dataTo = d; });
    }
    return {
      years: years, recent_from: isNum(D.recent_from) ? D.recent_from : null, recent_to: isNum(D.recent_to) ? D.recent_to : null,
      partial_year: partial, data_to: dataTo,
      topics: list.map(function (t) {
        return { cluster: t.cluster, label: t.label, per_year: t.per_year, growth: t.growth, momentum: t.momentum };
      })
    };
  }

  function graph() {
    var pts = points(), sums = {};
    for (var i = 0; i < pts.count; i++) {
      var c = pts.cluster[i];
      if (c < 0 || !isFinite(pts.x[i]) || !isFinite(pts.y[i])) continue;
      var s = sums[c] || (sums[c] = [0, 0, 0]);
      s[0] += pts.x[i]; s[1] += pts.y[i]; s[2] += 1;
    }
    return {
      nodes: topics().map(function (t) {
        var s = sums[t.cluster];
        return { id: t.cluster, label: t.label, size: t.size, x: s ? s[0] / s[2] : null, y: s ? s[1] / s[2] : null };
      }),
      links: arr(data().links).filter(function (l) { return l && isNum(l.source) && isNum(l.target); }).map(function (l) {
        return { source: l.source, target: l.target, similarity: isNum(l.similarity) ? l.similarity : null,
                 citations: isNum(l.citations) ? l.citations : 0 };
      })
    };
  }

  // A point's sub-topic: the column of the level below the topics (topic_l<depth - 1>), when the run has one.
  function subtopicAt(i) {
    var subs = subtopics(), id = arr(points().subtopic)[i];
    if (!subs.length || !isNum(id) || id < 0) return null;
    return subs.filter(function (s) { return s.node === id; })[0] || null;
  }
  var NEIGHBOURS = 10;
  // What the report knows of a patent: its point, its topic, and its nearest points on the map.
  function documentOf(id) {
    var pts = points(), i = indexOf(id);
    if (i < 0) return Promise.reject(new Error('no patent ' + id + ' in this report'));
    var near = [], x0 = pts.x[i], y0 = pts.y[i];
    if (isFinite(x0) && isFinite(y0)) {
      for (var j = 0; j < pts.count; j++) {
        if (j === i) continue;
        var dx = pts.x[j] - x0, dy = pts.y[j] - y0, d = dx * dx + dy * dy;
        if (!(d >= 0)) continue;  // NaN: no position
        if (near.length < NEIGHBOURS || d < near[near.length - 1][0]) {
          near.push([d, j]);
          near.sort(function (a, b) { return a[0] - b[0]; });
          if (near.length > NEIGHBOURS) near.pop();
        }
      }
    }
    function hit(j) {
      var c = pts.cluster[j];
      return { id: pts.id[j], title: str(pts.title ? pts.title[j] : ''), date: pts.date ? pts.date[j] : null,
               cluster: c, label: C.topicLabel(c) };
    }
    var c = pts.cluster[i], sub = subtopicAt(i);
    return Promise.resolve({
      subtopic: sub ? sub.node : null, subtopic_label: sub ? sub.label : null,
      id: pts.id[i], title: str(pts.title ? pts.title[i] : ''), abstract: '', text: '', claims: '', description: '',
      date: pts.date ? pts.date[i] : null, lang: pts.lang ? pts.lang[i] : null,
      cpc: arr(pts.cpc[i]).map(str), ipc: arr(pts.ipc[i]).map(str), assignee: null, placed: false,
      cluster: c, label: C.topicLabel(c), neighbours: near.map(function (p) { return hit(p[1]); }), neighbours_on_map: true
    });
  }

  P.source = {
    kind: 'embedded',
    data: data,
    corpus: function () { return Promise.resolve({ documents: points().count, runs: [data().run] }); },
    topics: function () { return Promise.resolve(topics()); },
    topicTree: function () {
      return Promise.resolve({ topics: topics(), levels: levels(), subtopics: subtopics(), hierarchy: obj(data().hierarchy) });
    },
    map: function () { return Promise.resolve(points()); },
    evolution: function () { return Promise.resolve(evolution()); },
    // the bursts the report was written with (topics, codes, owners), or null for a kind it lacks
    emerging: function (by) { return Promise.resolve(obj(data().emerging)[by || 'topic'] || null); },
    graph: function () { return Promise.resolve(graph()); },
    // the owners the report was written with (the largest organisations), or null
    owners: function () { return Promise.resolve(data().owners || null); },
    document: documentOf
  };
})();
