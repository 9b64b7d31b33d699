/* patscape offline report: wires the shared views to the data embedded in the page, and adds the
 * report's own parts: the run's facts and the quality of its clustering. */
(function () {
  'use strict';
  var P = window.patscape, C = P.core, $ = C.$, el = C.el, str = C.str, isNum = C.isNum, obj = C.obj;
  var source = P.source;
  window.addEventListener('error', function (e) { C.showError('Report script error: ' + (e && e.message ? e.message : e)); });

  var DATA;
  try { DATA = source.data(); } catch (err) { C.showError('The embedded report data cannot be read: ' + err); return; }
  var HAS_PLOTLY = typeof window.Plotly === 'object' && window.Plotly !== null;
  if (!HAS_PLOTLY) C.showError('plotly.js did not load; charts are missing.');
  var run = obj(DATA.run), metrics = obj(DATA.metrics);

  // ---------- header ----------
  function renderHeader(pts) {
    $('title').textContent = str(DATA.title || 'patscape landscape');
    var langs = obj(obj(metrics.language_mix).corpus_languages);
    var created = isNum(run.created_at) ? new Date(run.created_at * 1000).toISOString().slice(0, 16).replace('T', ' ') + ' UTC' : null;
    var facts = [
      ['Documents', C.fmtInt(isNum(metrics.documents) ? metrics.documents : pts.count)],
      ['Topics', C.fmtInt(isNum(metrics.topics) ? metrics.topics : P.state.topics.length)],
      ['Outliers', C.fmtPct(metrics.outlier_share)],
      ['Languages', Object.keys(langs).length ? String(Object.keys(langs).length) : null],
      ['Model', run.model, true],
      ['Seed', run.seed != null ? str(run.seed) : null, true],
      ['Run', run.id != null ? '#' + str(run.id) : null, true],
      ['Created', created, true],
      ['Embedding space', run.space, true]
    ];
    // which run this is, of the store's runs: the newest, or which is
    var stored = C.arr(DATA.runs).filter(function (r) { return r && isNum(r.id); }), newest = null;
    stored.forEach(function (r) { if (!newest || r.id > newest.id) newest = r; });
    if (stored.length) {
      facts.splice(7, 0, ['Runs in the store', C.fmtInt(stored.length) + (newest && newest.id === run.id ? ' (this is the newest)'
        : newest ? ' (the newest is #' + newest.id + ')' : ''), true]);
    }
    if (run.name) facts.splice(6, 0, ['Run name', str(run.name), true]);
    if (isNum(run.parent)) facts.push([run.updated ? 'Updated from' : 'Aligned to', 'run #' + str(run.parent), true]);
    var box = $('facts');
    facts.forEach(function (f) {
      if (f[1] == null || f[1] === '') return;
      box.appendChild(el('div', 'fact' + (f[2] ? ' small' : ''), [el('span', 'v', str(f[1])), el('span', 'k', f[0])]));
    });
    if (DATA.title) document.title = str(DATA.title);
  }

  // ---------- quality ----------
  function kv(rows) {
    var dl = el('dl', 'kv');
    rows.forEach(function (r) { if (r) { dl.appendChild(el('dt', null, r[0])); dl.appendChild(el('dd', null, r[1])); } });
    return dl;
  }
  function table(head, rows, numeric) {
    var t = el('table', 'small'), tr = el('tr');
    head.forEach(function (h, j) { tr.appendChild(el('th', numeric[j] ? 'num' : null, h)); });
    t.appendChild(el('thead', null, tr));
    var body = el('tbody');
    rows.forEach(function (r) {
      var row = el('tr');
      r.forEach(function (v, j) { row.appendChild(el('td', numeric[j] ? 'num' : null, v)); });
      body.appendChild(row);
    });
    t.appendChild(body);
    return t;
  }
  // The figures of each level of the hierarchy (metrics.levels, top first; the topics' level, then
  // the finest partition where the topics have sub-topics), and each landscape's best level.
  function levelQuality() {
    var figures = C.arr(metrics.levels).filter(function (f) { return f && isNum(f.level); }), H = P.hierarchy;
    if (figures.length < 2) return null;
    var block = el('div', 'block levels-quality');
    block.appendChild(el('h3', null, 'Quality per level'));
    var top = H.top(), withF1 = figures.some(function (f) { return isNum(f.landscape_f1_mean); });
    var rows = figures.map(function (f) {
      var what = f.partition ? 'sub-topics (else the topic)' : f.level === top ? 'topics' : H.plural(f.level);
      var row = ['L' + f.level + ' ' + what, C.fmtInt(f.nodes)];
      if (withF1) row.push(C.fmtNum(f.landscape_f1_mean, 3));
      return row.concat([C.fmtNum(f.ipc_section_ari, 3), C.fmtNum(f.ipc_subclass_ari, 3), C.fmtNum(f.cpc_subclass_ari, 3),
                         isNum(f.shares_parent_subclass) ? C.fmtPct(f.shares_parent_subclass, 0) : '\u2014']);
    });
    var head = ['Level', 'Nodes'].concat(withF1 ? ['Landscape F1'] : [],
      ['IPC section ARI', 'IPC subclass ARI', 'CPC subclass ARI', 'Same subclass as parent']);
    block.appendChild(table(head, rows, head.map(function (h, j) { return j > 0; })));
    var best = obj(obj(metrics.landscape_f1_best_level).landscapes), names = Object.keys(best);
    if (names.length) {
      block.appendChild(el('p', 'muted', 'Each known landscape at the level that finds it best: ' + names.map(function (n) {
        return n + ' L' + obj(best[n]).level + ' ' + C.fmtNum(obj(best[n]).f1, 2);
      }).join(', ') + ' (mean ' + C.fmtNum(obj(metrics.landscape_f1_best_level).mean, 3) + ').'));
    }
    block.appendChild(el('p', 'muted', 'ARI: agreement of each level\u2019s nodes with the patents\u2019 classes; ' +
      '\u201csame subclass as parent\u201d: the share of a level\u2019s nodes whose most frequent subclass is their parent\u2019s.'));
    return block;
  }
  function renderQuality(pts) {
    var box = $('quality'), topics = P.state.topics;
    var left = el('div', 'block');
    left.appendChild(el('h3', null, 'Clustering'));
    var lm = obj(metrics.language_mix);
    left.appendChild(kv([
      ['Documents', C.fmtInt(isNum(metrics.documents) ? metrics.documents : pts.count)],
      ['Topics', C.fmtInt(isNum(metrics.topics) ? metrics.topics : topics.length)],
      ['Outlier share', C.fmtPct(metrics.outlier_share) +
        (isNum(metrics.outlier_share_before_reassignment) ? '  (before reassignment: ' + C.fmtPct(metrics.outlier_share_before_reassignment) + ')' : '')],
      ['Silhouette (cosine)', C.fmtNum(metrics.silhouette_cosine, 3)],
      isNum(metrics.landscape_f1_mean) ? ['Mean landscape F1', C.fmtNum(metrics.landscape_f1_mean, 3)] : null
    ]));
    var langs = obj(lm.corpus_languages), total = 0;
    Object.keys(langs).forEach(function (k) { if (isNum(langs[k])) total += langs[k]; });
    if (total) {
      left.appendChild(el('h3', null, 'Languages'));
      var lrows = Object.keys(langs).sort(function (a, b) { return langs[b] - langs[a]; }).map(function (k) {
        return [C.langName(k), C.fmtInt(langs[k]), C.fmtPct(langs[k] / total)];
      });
      left.appendChild(table(['Language', 'Documents', 'Share'], lrows, [false, true, true]));
      if (isNum(lm.mixed_topics)) {
        left.appendChild(el('p', 'muted', C.fmtInt(lm.mixed_topics) + ' of ' + C.fmtInt(topics.length || metrics.topics) +
          ' topics are language-mixed (no language holds 90% of their patents).'));
      }
    }
    box.appendChild(left);

    var right = el('div', 'block');
    var agree = obj(metrics.code_agreement), names = Object.keys(agree);
    if (names.length) {
      right.appendChild(el('h3', null, 'Agreement of topics with patent classes'));
      var rows = names.map(function (name) {
        var v = obj(agree[name]), a = obj(v.clustered), b = obj(v.after_reassignment);
        var parts = name.split('_');
        return [(parts[0] || '').toUpperCase() + ' ' + parts.slice(1).join(' '), C.fmtNum(a.ari, 3), C.fmtNum(a.nmi, 3),
                C.fmtNum(b.ari, 3), C.fmtNum(b.nmi, 3), C.fmtInt(isNum(b.docs) ? b.docs : a.docs), C.fmtInt(isNum(b.classes) ? b.classes : a.classes)];
      });
      right.appendChild(table(['Scheme', 'ARI', 'NMI', 'ARI after', 'NMI after', 'Docs', 'Classes'], rows,
                              [false, true, true, true, true, true, true]));
      right.appendChild(el('p', 'muted', 'First columns: before outliers were reassigned; \u201cafter\u201d: after reassignment. A dash means the corpus has no such codes.'));
    }
    var f1 = obj(metrics.landscape_f1), f1names = Object.keys(f1);
    if (f1names.length) {
      right.appendChild(el('h3', null, 'Known landscapes found'));
      var frows = f1names.map(function (name) {
        var v = obj(f1[name]);
        var topic = isNum(v.topic) && v.topic >= 0 ? '#' + v.topic + ' ' + C.clip(C.topicLabel(v.topic), 40) : 'none';
        return [name, C.fmtNum(v.f1, 3), C.fmtNum(v.precision, 3), C.fmtNum(v.recall, 3), C.fmtInt(v.members), topic];
      });
      right.appendChild(table(['Landscape', 'F1', 'Precision', 'Recall', 'Patents', 'Best topic'], frows,
                              [false, true, true, true, true, false]));
    }
    box.appendChild(right);
    var levelBox = levelQuality();
    if (levelBox) box.appendChild(levelBox);

    var g = el('div', 'glossary');
    [
      ['Outliers', 'patents the clustering did not place in any topic (cluster \u22121); reassignment then gives those close enough to a topic to that topic, and the rest stay small grey dots on the map.'],
      ['ARI', 'the adjusted Rand index measures how well the topics group the same patents together as their CPC/IPC classes do: 1 is identical grouping, 0 is what chance gives.'],
      ['NMI', 'normalised mutual information, 0 to 1, is how much knowing a patent\u2019s topic tells about its class.'],
      ['Landscape F1', 'for each hand-labelled set of patents, the F1 score (harmonic mean of precision and recall) of the one topic matching it best; 1 means a single topic holds exactly that set.'],
      ['Silhouette', 'how much closer patents are to their own topic than to the next one in the embedding space, from \u22121 to 1; text clusters typically score near 0.'],
      ['Momentum', 'the share of a topic\u2019s patents published in the last complete years divided by that share for the whole corpus; above 1 the topic grows faster than the corpus. Growth is the yearly growth of its count over those years, shown above its patents in them; a topic whose count grows slower than the whole corpus\u2019s (in the value\u2019s tooltip) fades all the same.']
    ].forEach(function (d) { g.appendChild(el('p', null, [el('b', null, d[0] + ': '), d[1]])); });
    box.appendChild(g);

    if (run.params && typeof run.params === 'object') {
      var det = el('details', 'params', el('summary', null, 'Run parameters'));
      det.appendChild(el('pre', null, JSON.stringify(run.params, null, 2)));
      box.appendChild(det);
    }
  }

  // ---------- map controls ----------
  function showTopic(cluster, scroll) {
    var select = $('map-topic');
    P.state.activeTopic = cluster == null || P.state.activeTopic === cluster && !scroll && !P.state.activeNode ? null : cluster;
    P.state.activeNode = null;
    select.value = P.state.activeTopic == null ? '' : String(P.state.activeTopic);
    P.topicTable.markActive();
    if (scroll) $('sec-map').scrollIntoView();
    return P.mapView.render();
  }
  // a node of a level above the topics (a field, a technology): its topics' points on the map
  function showNode(level, node, scroll, fromTable) {
    var an = P.state.activeNode, same = an && an.level === level && an.node === node;
    P.state.activeNode = same && !scroll ? null : { level: level, node: node };
    P.state.activeTopic = null;
    $('map-topic').value = '';
    P.topicTable.markActive();
    if (!fromTable) P.topicTable.expand(level, node);
    if (scroll) $('sec-map').scrollIntoView();
    return P.mapView.render();
  }
  function langKey(key) {
    C.clear(key);
    P.mapView.langOrder().forEach(function (code, k) {
      var sw = el('span', 'swatch');
      sw.style.background = C.LANG_COLOURS[Math.min(k, C.LANG_COLOURS.length - 1)];
      key.appendChild(el('span', null, [sw, C.langName(code)]));
    });
  }
  function wireMap(pts) {
    var select = $('map-topic');
    P.state.topics.slice().sort(function (a, b) { return a.cluster - b.cluster; }).forEach(function (t) {
      select.appendChild(el('option', { value: String(t.cluster) }, '#' + t.cluster + ' ' + C.clip(C.topicLabel(t.cluster), 60) + ' (' + C.fmtInt(t.size) + ')'));
    });
    select.addEventListener('change', function () { showTopic(select.value === '' ? null : Number(select.value), false); });
    P.hierarchy.wireControls($('map-colour'), $('map-labels'), $('map-key'), { lang: !!pts.lang, langKey: langKey });
  }

  // ---------- go ----------
  var pts, pending = [];
  source.topicTree().then(function (tree) { C.setTopics(tree.topics, tree.levels, tree.subtopics); });   // resolved at once: the data is in the page
  source.map().then(function (p) { pts = p; });
  Promise.resolve().then(function () {
    C.step('The header', function () { renderHeader(pts); });
    C.step('The quality box', function () { renderQuality(pts); });
    P.topicTable.onSelect(function (cluster, scroll) { return showTopic(cluster, scroll); });
    P.topicTable.onSelectNode(function (level, node, scroll) { return showNode(level, node, scroll, true); });
    P.panel.onNode(function (level, node) { return showNode(level, node, true, false); });
    P.topicTable.onOpen(function (id) { $('sec-map').scrollIntoView(); return P.panel.show(id); });
    C.step('The topic table', P.topicTable.render);
    if (!HAS_PLOTLY) return;
    P.mapView.init($('map'), function (id) { return P.panel.show(id); });
    P.graphView.onSelect(function (cluster) { return showTopic(cluster, true); });
    C.step('The map controls', function () { wireMap(pts); });
    $('map-density').addEventListener('change', function () {
      document.body.setAttribute('data-contours', $('map-density').checked ? 'on' : 'off');
      return P.mapView.showContours($('map-density').checked);
    });
    pending.push(C.step('The map', function () {
      P.mapView.setPoints(pts);
      return P.mapView.render().then(function () { performance.mark('patscape-map'); });
    }));
    var evo = $('evolution');
    function drawEvolution() { return source.evolution().then(function (e) { return P.evolutionView.render(evo, e, $('evo-mode').value); }); }
    pending.push(C.step('The evolution chart', drawEvolution));
    $('evo-mode').addEventListener('change', function () { C.step('The evolution chart', drawEvolution); });
    pending.push(C.step('The topic links', function () { return source.graph().then(function (g) { return P.graphView.render($('graph'), g); }); }));
    function drawEmerging() {
      var by = $('emerging-by').value;
      return source.emerging(by).then(function (result) { return P.emergingView.render($('emerging'), result, by); });
    }
    P.emergingView.onTopic = function (level, node) {
      var top = P.hierarchy.top();
      if (level === top) return showTopic(node, true);
      if (level < top) return showNode(level, node, true, false);
      var sub = C.arr(P.state.subtopics).filter(function (s) { return s.node === node; })[0];
      return sub ? showTopic(sub.parent, true) : null;
    };
    pending.push(C.step('The emerging items', drawEmerging));
    function lineageView() { return $('lineage-across').value === 'windows' ? DATA.windows : DATA.flows; }
    function drawLineage() {
      var windows = $('lineage-across').value === 'windows', view = lineageView();
      $('flow-docs').hidden = true;
      $('lineage-hint').textContent = windows
        ? 'Which earlier topic each period\u2019s patents build on: a patent flows from the topic its nearest patents of the window before are in ' +
          'to its own (blue: the same topic, orange: another, green: nothing near before). Click a flow to list its patents.'
        : 'Where each topic\u2019s patents went from the run before to this one (the runs this run was aligned to or updated from, oldest on ' +
          'the left): blue flows keep their topic\u2019s id, orange ones move to another topic, green ones are new patents, grey ones were ' +
          'deleted. Click a flow to list its patents.';
      if (!view) {
        C.clear($('lineage'));
        $('lineage').appendChild(el('p', 'empty', windows ? 'No time windows: the patents of this run have no dates.'
          : 'This report was written without the lineage view.'));
        return null;
      }
      return P.lineageView.render($('lineage'), view, Number($('lineage-min').value));
    }
    // a run with no run before it stored: its time windows are what there is to draw
    if (DATA.windows && (!DATA.flows || C.arr(DATA.flows.columns).length < 2)) $('lineage-across').value = 'windows';
    pending.push(C.step('The lineage', drawLineage));
    ['lineage-min', 'lineage-across'].forEach(function (id) {
      $(id).addEventListener('change', function () { C.step('The lineage', drawLineage); });
    });
    pending.push(C.step('The owners', function () {
      return source.owners().then(function (view) {
        if (!view) { $('owners-table').appendChild(el('p', 'empty', 'This report was written without the owners.')); return null; }
        P.ownersView.render($('owners-table'), view, $('owners-compare'));
        return P.ownersView.matrix($('owners-matrix'), view);
      });
    }));
    P.ownersView.onShow = function (owner) {
      P.mapView.setOverlay('owner', C.arr(owner.ids));
      document.body.setAttribute('data-portfolio', String(C.arr(owner.ids).length));
      $('sec-map').scrollIntoView();
      return P.mapView.render();
    };
    // a flow's documents: those the report holds (the first of each flow), titles from the map
    P.lineageView.onFlow = function (from, to, flow) {
      var titles = {};
      if (pts) pts.id.forEach(function (id, i) { if (pts.title) titles[id] = pts.title[i]; });
      var docs = C.arr(flow.ids).map(function (id) { return { id: str(id), title: titles[id] || '' }; });
      P.lineageView.renderDocuments($('flow-docs'), lineageView(), from, to, flow, docs, flow.documents, function (id) {
        if (!(id in titles)) { C.showError('Patent ' + id + ' is not on this run\'s map.'); return null; }
        $('sec-map').scrollIntoView();
        return P.panel.show(id);
      });
    };
    $('emerging-by').addEventListener('change', function () { C.step('The emerging items', drawEmerging); });
  }).then(function () {
    return Promise.all(pending.map(function (p) { return Promise.resolve(p).catch(function (err) { C.showError(String(err)); }); }));
  }).then(function () { document.body.setAttribute('data-rendered', 'yes'); });
})();
