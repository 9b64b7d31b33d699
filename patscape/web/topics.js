/* patscape views: the topic table. Sortable columns, a filter, and a click shows the topic on the map. */
(function () {
  'use strict';
  var P = window.patscape = window.patscape || {};
  var C = P.core, el = C.el, str = C.str, isNum = C.isNum;

  function size(t) { return isNum(t.size) ? t.size : 0; }
  function keywordsOf(t) {
    var by = C.obj(t.keywords_by_language), langs = Object.keys(by);
    if (!langs.length) return C.arr(t.keywords).length ? [['', t.keywords]] : [];
    var order = C.obj(t.languages);
    langs.sort(function (a, b) { return (order[b] || 0) - (order[a] || 0) || (a < b ? -1 : 1); });
    return langs.map(function (lang) { return [lang, C.arr(by[lang]).map(str)]; }).filter(function (p) { return p[1].length; });
  }
  function codesBy(t) {
    var out = {};
    C.arr(t.codes).forEach(function (c) {
      (out[c.scheme] = out[c.scheme] || []).push(isNum(c.share) ? str(c.code) + ' ' + Math.round(c.share * 100) + '%' : str(c.code));
    });
    return out;
  }

  var COLUMNS = [
    { key: 'cluster', title: '#', num: true, sort: function (t) { return t.cluster; } },
    { key: 'label', title: 'Topic and keywords', sort: function (t) { return str(t.label).toLowerCase(); } },
    { key: 'size', title: 'Patents', num: true, sort: size },
    { key: 'codes', title: 'Main codes' },
    { key: 'momentum', title: 'Momentum', num: true, sort: function (t) { return t.momentum; },
      tip: 'Share of the topic\u2019s patents from the last complete years, relative to the corpus (above 1: growing faster).' },
    { key: 'growth', title: 'Growth/yr', num: true, sort: function (t) { return t.growth; },
      tip: 'Annual growth of the topic\u2019s yearly counts over the last complete years; below, its patents in ' +
        'those years. The corpus\u2019s own growth is in each value\u2019s tooltip: a topic that grows slower than ' +
        'the corpus fades (momentum below 1) even when its count rises.' },
    { key: 'years', title: 'Years', num: true, sort: function (t) { return t.median_year; },
      tip: 'first year of the topic; below, its busiest year and its median year' },
    { key: 'langs', title: 'Languages' },
    { key: 'reps', title: 'Representative patents' }
  ];
  var T = { rows: [], sort: { key: 'size', dir: -1 }, onSelect: null, onOpen: null };

  function row(t, maxSize) {
    var tr = el('tr', { 'data-cluster': String(t.cluster) });
    if (P.state.activeTopic === t.cluster) tr.className = 'active';
    var btn = el('button', { class: 'mapbtn', type: 'button', title: 'show on the map' }, '\u25ce');
    btn.addEventListener('click', function (event) { event.stopPropagation(); if (T.onSelect) T.onSelect(t.cluster, true); });
    tr.appendChild(el('td', 'num', el('span', 'tid', [C.dot(t.cluster), String(t.cluster), btn])));

    var label = el('td', 'label', el('div', 'tlabel', C.topicLabel(t.cluster)));
    keywordsOf(t).forEach(function (p) {
      label.appendChild(el('div', 'kw', [p[0] ? el('span', 'lang', p[0]) : null, p[1].slice(0, 8).join(', ')]));
    });
    tr.appendChild(label);

    var bar = el('div', 'sizebar', el('span'));
    bar.firstChild.style.width = (maxSize ? Math.max(2, 100 * size(t) / maxSize) : 0) + '%';
    tr.appendChild(el('td', 'num', [C.fmtInt(t.size) + (t.placed ? ' +' + t.placed : ''), bar]));

    var codes = codesBy(t), codeCell = el('td', 'codes');
    Object.keys(codes).forEach(function (scheme) {
      codeCell.appendChild(el('div', null, [el('span', 'scheme', scheme.toUpperCase()), codes[scheme].slice(0, 3).join(' \u00b7 ')]));
    });
    tr.appendChild(codeCell);

    var mom = el('td', 'num', C.fmtNum(t.momentum, 2));
    if (isNum(t.momentum)) mom.className += t.momentum >= 1.2 ? ' up' : t.momentum <= 0.8 ? ' down' : '';
    tr.appendChild(mom);
    // a rate is read beside its evidence (patents in the window) and the corpus's own rate
    var growth = el('td', 'num', isNum(t.recent) ?
      [C.fmtGrowth(t.growth), el('div', 'muted', C.fmtInt(t.recent) + ' recent')] : C.fmtGrowth(t.growth));
    // green only for a topic that outgrows the corpus: +169% beside a corpus at +515% is no rise
    var outgrows = !isNum(t.corpus_growth) || t.growth >= t.corpus_growth;
    if (isNum(t.growth)) growth.className += t.growth > 0.05 && outgrows ? ' up' : t.growth < -0.05 ? ' down' : '';
    if (isNum(t.recent)) {
      growth.title = C.fmtInt(t.recent) + ' patent' + (t.recent === 1 ? '' : 's') + ' of this topic in the last complete years' +
        (isNum(t.corpus_growth) ? '; the whole corpus: ' + C.fmtGrowth(t.corpus_growth) + ' a year over them' : '');
    }
    tr.appendChild(growth);
    // "2004-2005" read as a range of years next to a median of 2011: name each year instead
    var first = t.first_year != null ? 'from ' + str(t.first_year) : '';
    var below = [t.peak_year != null ? 'peak ' + str(t.peak_year) : '',
                 t.median_year != null ? 'median ' + str(t.median_year) : ''].filter(Boolean).join(' \u00b7 ');
    tr.appendChild(el('td', 'num', t.first_year == null && t.peak_year == null ? '\u2014' :
      [first, el('div', 'muted', below)]));

    var langs = C.obj(t.languages), total = 0;
    var codesL = Object.keys(langs).sort(function (a, b) { return langs[b] - langs[a]; });
    codesL.forEach(function (k) { if (isNum(langs[k])) total += langs[k]; });
    tr.appendChild(el('td', 'langs', codesL.map(function (k) {
      return el('div', null, [el('span', 'lang', k), total ? C.fmtPct(langs[k] / total, 0) : C.fmtInt(langs[k])]);
    })));

    var reps = C.arr(t.representatives), repCell = el('td', 'reps');
    function rep(r) {
      var item = el('div', null, [el('span', 'pid', r.id), clipTitle(r.title)]);
      if (T.onOpen) {
        item.className = 'rep';
        item.addEventListener('click', function (event) { event.stopPropagation(); T.onOpen(r.id); });
      }
      return item;
    }
    reps.slice(0, 3).forEach(function (r) { repCell.appendChild(rep(r)); });
    if (reps.length > 3) {
      var more = el('details', null, el('summary', null, (reps.length - 3) + ' more'));
      more.addEventListener('click', function (event) { event.stopPropagation(); });
      reps.slice(3).forEach(function (r) { more.appendChild(rep(r)); });
      repCell.appendChild(more);
    }
    tr.appendChild(repCell);
    tr.addEventListener('click', function () { if (T.onSelect) T.onSelect(t.cluster, false); });
    var text = [C.topicLabel(t.cluster), '#' + t.cluster].concat(
      keywordsOf(t).map(function (p) { return p[1].join(' '); }),
      Object.keys(codes).map(function (s) { return codes[s].join(' '); }),
      reps.map(function (r) { return r.id + ' ' + r.title; })).join(' ').toLowerCase();
    return { topic: t, tr: tr, text: text };
  }
  function clipTitle(title) { return C.clip(title, 140); }

  function sortRows() {
    var col = COLUMNS.filter(function (c) { return c.key === T.sort.key; })[0], dir = T.sort.dir;
    T.rows.sort(function (a, b) {
      var va = col.sort(a.topic), vb = col.sort(b.topic);
      var na = va == null || (typeof va === 'number' && !isFinite(va)), nb = vb == null || (typeof vb === 'number' && !isFinite(vb));
      if (na || nb) return na === nb ? a.topic.cluster - b.topic.cluster : na ? 1 : -1;   // blanks last
      if (va < vb) return -dir;
      if (va > vb) return dir;
      return a.topic.cluster - b.topic.cluster;
    });
    var table = C.$('topic-table'), body = table.tBodies[0];
    T.rows.forEach(function (r) { body.appendChild(r.tr); });
    var ths = table.tHead.rows[0].cells;
    COLUMNS.forEach(function (c, j) {
      var arrow = ths[j].querySelector('.arrow');
      if (!arrow) return;
      arrow.textContent = c.key === T.sort.key ? (dir > 0 ? '\u25b2' : '\u25bc') : '';
      ths[j].setAttribute('aria-sort', c.key === T.sort.key ? (dir > 0 ? 'ascending' : 'descending') : 'none');
    });
  }
  function filter() {
    var input = C.$('topic-filter'), q = input ? input.value.trim().toLowerCase() : '', shown = 0;
    T.rows.forEach(function (r) { var ok = !q || r.text.indexOf(q) >= 0; r.tr.hidden = !ok; if (ok) shown++; });
    var count = C.$('topic-count');
    if (count) count.textContent = shown === T.rows.length ? T.rows.length + ' topics' : shown + ' of ' + T.rows.length + ' topics';
  }
  function render() {
    var table = C.$('topic-table'), topics = P.state.topics;
    C.clear(table);
    var empty = C.$('topic-empty');
    if (empty) empty.hidden = !!topics.length;
    var head = el('tr');
    COLUMNS.forEach(function (c) {
      var th = el('th', (c.num ? 'num' : '') + (c.sort ? ' sortable' : ''), c.title);
      if (c.tip) th.title = c.tip;
      if (c.sort) {
        th.appendChild(el('span', 'arrow'));
        th.setAttribute('tabindex', '0');
        var go = function () {
          T.sort = { key: c.key, dir: T.sort.key === c.key ? -T.sort.dir : (c.key === 'label' || c.key === 'cluster' ? 1 : -1) };
          sortRows();
        };
        th.addEventListener('click', go);
        th.addEventListener('keydown', function (ev) { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); go(); } });
      }
      head.appendChild(th);
    });
    table.appendChild(el('thead', null, head));
    table.appendChild(el('tbody'));
    var maxSize = Math.max.apply(null, topics.map(size).concat([0]));
    T.rows = topics.map(function (t) { return row(t, maxSize); });
    sortRows();
    filter();
  }
  function markActive() {
    T.rows.forEach(function (r) { r.tr.classList.toggle('active', r.topic.cluster === P.state.activeTopic); });
  }
  var wired = false;
  P.topicTable = {
    render: function () {
      if (!wired && C.$('topic-filter')) { wired = true; C.$('topic-filter').addEventListener('input', filter); }
      render();
    },
    markActive: markActive,
    onSelect: function (fn) { T.onSelect = fn; },
    onOpen: function (fn) { T.onOpen = fn; }
  };
})();
