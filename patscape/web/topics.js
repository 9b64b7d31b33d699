/* patscape views: the topic table. Sortable columns, a filter, and a click shows the topic on the map.
 * With levels above the topics (hierarchy.js) the table is a tree: the top level's nodes first, a
 * click on one shows its children (then, at the finest level, its topics); columns sort siblings.
 * A topic with sub-topics (the level below it) opens on its triangle to show them. */
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
  // main groups (ipc_main, cpc_main: one list, each code once, with its title where known)
  function mainGroups(t) {
    var seen = {}, out = [];
    C.arr(t.codes).filter(function (c) { return /_main$/.test(str(c.scheme)); }).forEach(function (c) {
      var code = str(c.code), had = seen[code];
      if (had) { if (!had.title && c.title) had.title = str(c.title); if (isNum(c.share) && !(had.share >= c.share)) had.share = c.share; return; }
      out.push(seen[code] = { code: code, share: isNum(c.share) ? c.share : null, title: c.title ? str(c.title) : '' });
    });
    return out.sort(function (a, b) { return (b.share || 0) - (a.share || 0); });
  }
  function codesBy(t) {
    var out = {};
    C.arr(t.codes).forEach(function (c) {
      if (/_main$/.test(str(c.scheme))) return;
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
  var T = { rows: [], sort: { key: 'size', dir: -1 }, onSelect: null, onOpen: null, onSelectNode: null, onRename: null, expanded: {}, tree: false };
  function keyOf(level, id) { return level + ':' + id; }

  function topicLevel() { return T.tree ? P.hierarchy.top() : 0; }
  function subsOf(cluster) { return C.arr(P.state.subtopicsOf[cluster]); }
  // One row: a topic (level = the topics' level), a node of a level above the topics, or (isSub)
  // a sub-topic, the level below its topic.
  function row(t, level, maxSize, isSub) {
    var H = P.hierarchy, isTopic = !isSub && (!T.tree || level === H.top()), id = isTopic ? t.cluster : t.node;
    var tr = el('tr', isTopic ? { 'data-cluster': String(id) } : isSub ? { 'data-subtopic': String(id), 'data-parent': String(t.parent) } :
      { 'data-level': String(level), 'data-node': String(id) });
    if (T.tree || isSub) tr.className = 'lv' + (isTopic ? ' lv-topic' : isSub ? ' lv-sub' : ' lv-' + level);
    var subs = isTopic ? subsOf(id) : [];
    var btn = el('button', { class: 'mapbtn', type: 'button', title: 'show on the map' }, '\u25ce');
    btn.addEventListener('click', function (event) {
      event.stopPropagation();
      if (isTopic || isSub) { if (T.onSelect) T.onSelect(isSub ? t.parent : id, true); } else if (T.onSelectNode) T.onSelectNode(level, id, true);
    });
    var dot = isSub ? (T.tree ? H.dot(H.top(), t.parent) : C.dot(t.parent)) : T.tree ? H.dot(level, id) : C.dot(id);
    tr.appendChild(el('td', 'num', el('span', 'tid', [dot, String(id), btn])));

    var name = isTopic ? C.topicLabel(id) : isSub ? (str(t.label) || 'sub-topic ' + id) : H.label(level, id);
    var twisty = isSub || (isTopic && !subs.length) ? null : el('button', { class: 'twisty', type: 'button',
      'aria-label': isTopic ? 'show the sub-topics of this topic' : 'show the ' + H.plural(level + 1) + ' of this ' + H.levelName(level) }, '\u25b8');
    var nameBox = el('div', 'tname', el('div', 'tlabel', name));
    if (T.onRename) nameBox.appendChild(renameButton(nameBox, isTopic ? topicLevel() : isSub ? topicLevel() + 1 : level, id));
    var chip = isSub ? 'sub-topic' : isTopic ? (subs.length ? 'topic \u00b7 ' + subs.length + ' sub-topics' : null) :
      H.levelName(level) + ' \u00b7 ' + H.children(level, id).length + ' ' + H.plural(level + 1);
    var head = el('div', 'tline', [twisty, nameBox, chip ? el('span', 'level-chip', chip) : null]);
    var label = el('td', 'label', head);
    if (T.tree || isSub) label.style.paddingLeft = (8 + 18 * (isSub ? topicLevel() + 1 : level)) + 'px';
    keywordsOf(t).forEach(function (p) {
      label.appendChild(el('div', 'kw', [p[0] ? el('span', 'lang', p[0]) : null, p[1].slice(0, isTopic ? 8 : 6).join(', ')]));
    });
    tr.appendChild(label);

    var bar = el('div', 'sizebar', el('span'));
    bar.firstChild.style.width = (maxSize ? Math.max(2, 100 * size(t) / maxSize) : 0) + '%';
    tr.appendChild(el('td', 'num', [C.fmtInt(t.size) + (t.placed ? ' +' + t.placed : ''), bar]));

    var groups = mainGroups(t), codes = codesBy(t), codeCell = el('td', 'codes');
    groups.slice(0, 3).forEach(function (g) {
      var line = el('div', 'main-group', [el('span', 'code', g.code), isNum(g.share) ? el('span', 'share', Math.round(g.share * 100) + '%') : null]);
      if (g.title) { line.title = g.title; line.appendChild(el('div', 'code-title', C.clip(g.title, 70))); }
      codeCell.appendChild(line);
    });
    Object.keys(codes).forEach(function (scheme) {
      codeCell.appendChild(el('div', groups.length ? 'subclasses' : null, [el('span', 'scheme', scheme.toUpperCase()), codes[scheme].slice(0, 3).join(' \u00b7 ')]));
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
    var r = { topic: t, id: id, dot: dot, level: isTopic && T.tree ? H.top() : level, topicRow: isTopic, subRow: !!isSub, tr: tr,
              twisty: twisty, key: isSub ? 'sub:' + id : keyOf(level, id),
              parentKey: isSub ? keyOf(topicLevel(), t.parent) : T.tree && level > 0 ? keyOf(level - 1, t.parent) : null, kids: [] };
    if (isTopic && twisty) twisty.addEventListener('click', function (event) { event.stopPropagation(); toggle(r.key); });
    tr.addEventListener('click', function () {
      if (isTopic || isSub) { if (T.onSelect) T.onSelect(isSub ? t.parent : id, false); } else toggle(r.key);
    });
    r.text = [name, '#' + id].concat(
      keywordsOf(t).map(function (p) { return p[1].join(' '); }),
      Object.keys(codes).map(function (sc) { return codes[sc].join(' '); }),
      groups.map(function (g) { return g.code + ' ' + g.title; }),
      reps.map(function (x) { return x.id + ' ' + x.title; })).join(' ').toLowerCase();
    return r;
  }
  function clipTitle(title) { return C.clip(title, 140); }

  // The served UI's "Rename": the name turns into an input; Enter saves (T.onRename, which
  // draws the table again on success), Escape cancels. Names are shown as text only.
  function renameButton(box, level, id) {
    var btn = el('button', { class: 'renamebtn', type: 'button', title: 'rename' }, 'Rename');
    btn.addEventListener('click', function (event) {
      event.stopPropagation();
      var label = box.querySelector('.tlabel');
      if (!label || box.querySelector('.rename-input')) return;
      var input = el('input', { class: 'rename-input', type: 'text', 'aria-label': 'new name', spellcheck: 'false' });
      var note = el('div', { class: 'rename-note', role: 'status' });
      var busy = false;
      input.value = label.textContent;
      label.hidden = true;
      btn.hidden = true;
      box.insertBefore(input, label);
      box.appendChild(note);
      function close() {
        if (input.parentNode) input.parentNode.removeChild(input);
        if (note.parentNode) note.parentNode.removeChild(note);
        label.hidden = false;
        btn.hidden = false;
      }
      function save() {
        if (busy) return;
        busy = true;
        input.disabled = true;
        note.textContent = 'saving\u2026';
        Promise.resolve().then(function () { return T.onRename(level, id, input.value); }).then(close, function (err) {
          busy = false;
          input.disabled = false;
          note.textContent = 'Not renamed: ' + (err && err.message ? err.message : String(err));
          input.focus();
        });
      }
      input.addEventListener('click', function (ev) { ev.stopPropagation(); });
      input.addEventListener('keydown', function (ev) {
        if (ev.key === 'Enter') { ev.preventDefault(); ev.stopPropagation(); save(); }
        else if (ev.key === 'Escape') { ev.preventDefault(); ev.stopPropagation(); if (!busy) { close(); btn.focus(); } }
      });
      input.focus();
      input.select();
    });
    return btn;
  }

  function compare(col, dir) {
    return function (a, b) {
      var va = col.sort(a.topic), vb = col.sort(b.topic);
      if (!a.topicRow && col.key === 'cluster') { va = a.id; vb = b.id; }
      var na = va == null || (typeof va === 'number' && !isFinite(va)), nb = vb == null || (typeof vb === 'number' && !isFinite(vb));
      if (na || nb) return na === nb ? a.id - b.id : na ? 1 : -1;   // blanks last
      if (va < vb) return -dir;
      if (va > vb) return dir;
      return a.id - b.id;
    };
  }
  function sortRows() {
    var col = COLUMNS.filter(function (c) { return c.key === T.sort.key; })[0], dir = T.sort.dir, cmp = compare(col, dir);
    var ordered = [];
    (function walk(list) {   // siblings sorted, each followed by its children (depth first)
      list.slice().sort(cmp).forEach(function (r) { ordered.push(r); walk(r.kids); });
    })(T.rows.filter(function (r) { return !r.parentKey; }));
    T.rows = ordered;
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
  function toggle(key, open) {
    T.expanded[key] = open == null ? !T.expanded[key] : open;
    filter();
  }
  function filter() {
    var input = C.$('topic-filter'), q = input ? input.value.trim().toLowerCase() : '', shown = 0, byKey = {}, topics = 0;
    T.rows.forEach(function (r) { byKey[r.key] = r; r.match = !q || r.text.indexOf(q) >= 0; });
    // a row is shown when its own text or one of its descendants' matches the filter ...
    T.rows.slice().reverse().forEach(function (r) {
      r.deep = r.match || r.kids.some(function (k) { return k.deep; });
    });
    T.rows.forEach(function (r) {
      var ok = q ? r.deep : true, up = r.parentKey;
      while (ok && up && !q) { ok = !!T.expanded[up]; up = byKey[up] ? byKey[up].parentKey : null; }   // ... and its parents are open
      r.tr.hidden = !ok;
      if (r.twisty) {
        var open = q ? r.deep : !!T.expanded[r.key];
        r.twisty.textContent = open ? '\u25be' : '\u25b8';
        r.tr.setAttribute('aria-expanded', open ? 'true' : 'false');
      }
      if (r.topicRow) { topics++; if (r.match) shown++; }
    });
    var count = C.$('topic-count');
    if (!count) return;
    if (T.tree) {
      var H = P.hierarchy, parts = [];
      for (var lv = 0; lv < H.top(); lv++) parts.push(H.nodes(lv).length + ' ' + H.plural(lv));
      count.textContent = parts.concat([topics + ' topics']).join(' \u00b7 ') + (q ? ' \u2014 ' + shown + ' topics match' : '');
    } else count.textContent = shown === topics ? topics + ' topics' : shown + ' of ' + topics + ' topics';
  }
  function render() {
    var table = C.$('topic-table'), topics = P.state.topics, H = P.hierarchy;
    T.tree = H.has();
    C.clear(table);
    var empty = C.$('topic-empty');
    if (empty) empty.hidden = !!topics.length;
    var tools = C.$('topic-tree-tools');
    if (tools) tools.hidden = !T.tree;
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
    var levels = T.tree ? H.top() + 1 : 1;
    T.rows = [];
    for (var lv = 0; lv < levels; lv++) {
      var recs = T.tree ? H.nodes(lv) : topics;
      var maxSize = Math.max.apply(null, recs.map(size).concat([0]));
      recs.forEach(function (t) { T.rows.push(row(t, lv, maxSize)); });
    }
    var subtopics = P.state.subtopics, subMax = Math.max.apply(null, subtopics.map(size).concat([0]));
    subtopics.forEach(function (s) { T.rows.push(row(s, topicLevel() + 1, subMax, true)); });
    var byKey = {};
    T.rows.forEach(function (r) { byKey[r.key] = r; });
    T.rows.forEach(function (r) { if (r.parentKey && byKey[r.parentKey]) byKey[r.parentKey].kids.push(r); else r.parentKey = null; });
    sortRows();
    filter();
    markActive();
  }
  function markActive() {
    var S = P.state, an = S.activeNode;
    T.rows.forEach(function (r) {
      var on = r.topicRow ? r.topic.cluster === S.activeTopic && !an : !!an && an.level === r.level && an.node === r.id;
      r.tr.classList.toggle('active', on);
    });
  }
  function expandAll(open) {
    T.rows.forEach(function (r) { if (!r.topicRow) T.expanded[r.key] = open; });
    filter();
  }
  var wired = false;
  P.topicTable = {
    render: function () {
      if (!wired) {
        wired = true;
        if (C.$('topic-filter')) C.$('topic-filter').addEventListener('input', filter);
        if (C.$('topic-expand')) C.$('topic-expand').addEventListener('click', function () { expandAll(true); });
        if (C.$('topic-collapse')) C.$('topic-collapse').addEventListener('click', function () { expandAll(false); });
      }
      render();
    },
    markActive: markActive,
    recolour: function () {
      if (T.tree) T.rows.forEach(function (r) {
        r.dot.style.background = r.subRow ? P.hierarchy.colour(P.hierarchy.top(), r.topic.parent) : P.hierarchy.colour(r.level, r.id);
      });
    },
    // open (or close) a node of a level and its parents, so that its row and its children's show
    expand: function (level, node, open) {
      var r = T.rows.filter(function (x) { return !x.topicRow && x.level === level && x.id === node; })[0];
      if (!r) return;
      toggle(r.key, open == null ? true : open);
      var byKey = {};
      T.rows.forEach(function (x) { byKey[x.key] = x; });
      for (var up = r.parentKey; up; up = byKey[up] ? byKey[up].parentKey : null) T.expanded[up] = true;
      filter();
    },
    onSelect: function (fn) { T.onSelect = fn; },
    onSelectNode: function (fn) { T.onSelectNode = fn; },
    onOpen: function (fn) { T.onOpen = fn; },
    // fn(level, id, name) -> Promise: rename a topic (level: the topics') or a node (served UI only)
    onRename: function (fn) { T.onRename = fn; }
  };
})();
