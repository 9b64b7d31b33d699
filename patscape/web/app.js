/* patscape web UI (`patscape serve`): wires the shared views to the API, and adds what only a
 * server can do: search, uploads, and asking for the API key. The page's Content-Security-Policy
 * allows scripts from this server only. */
(function () {
  'use strict';
  var P = window.patscape, C = P.core, S = P.state, $ = C.$, source = P.source;

  // ---------- the API key ----------
  source.onUnauthorised = function (message, hadKey) {
    var form = $('auth'), first = form.hidden;
    form.hidden = false;
    $('auth-message').textContent = hadKey ? message || 'incorrect API key' : '';
    document.body.setAttribute('data-auth', 'needed');
    if (first) $('api-key').focus();
  };

  // ---------- loading ----------
  function loadAll() {
    C.clearErrors();
    return source.corpus().then(function (corpus) {
      showStats(corpus);
      showRuns(corpus.runs);
      if (!corpus.runs.length) {
        $('map-note').textContent = 'This corpus has no map yet: run `patscape map` first.';
        document.body.setAttribute('data-ready', 'no-run');
        return null;
      }
      return Promise.all([source.topicTree(), source.map()]).then(function (both) {
        performance.mark('patscape-data');   // what benchmarks/ui_map.py reports: data in, map drawn
        C.setTopics(both[0].topics, both[0].levels, both[0].subtopics);
        P.hierarchy.wireControls($('map-colour'), $('map-labels'), $('map-key'));
        setPoints(both[1]);
        P.topicTable.render();
        return P.mapView.render();
      }).then(function () {
        performance.mark('patscape-map');
        return loadTitles();
      }).then(function () {
        document.body.setAttribute('data-ready', 'yes');
        document.body.setAttribute('data-points', String(P.mapView.points().count));
      });
    }).catch(function (err) {
      if (err.status === 401) {  // the key form is shown; loading starts again once a key is given
        if ($('auth').hidden) source.onUnauthorised(err.message, source.hasKey());  // a 401 from before this file ran
        document.body.setAttribute('data-ready', 'auth');
        return;
      }
      C.showError('The corpus could not be loaded: ' + err.message);
      document.body.setAttribute('data-ready', 'error');
    });
  }
  function showStats(corpus) {
    $('stats').textContent = C.fmtInt(corpus.documents) + ' documents \u00b7 ' + corpus.runs.length +
      ' map' + (corpus.runs.length === 1 ? '' : 's') + ' \u00b7 model ' + corpus.model;
  }
  // ---------- which run is shown: the newest by default; the page says which ----------
  var runs = [];
  function runText(r, newest) {
    var when = C.isNum(r.created_at) ? new Date(r.created_at * 1000).toISOString().slice(0, 10) : '';
    return 'run ' + r.id + (newest ? ' (newest)' : '') + (r.name ? ' \u00b7 ' + C.clip(r.name, 40) : '') + ' \u00b7 ' +
      C.fmtInt(r.topics) + ' topics' + (r.updated ? ' \u00b7 updated from ' + r.parent : r.parent ? ' \u00b7 aligned to ' + r.parent : '') +
      (when ? ' \u00b7 ' + when : '');
  }
  function showRuns(list) {
    runs = C.arr(list).slice().sort(function (a, b) { return b.id - a.id; });
    var select = $('run-choice'), wanted = source.run();
    C.clear(select);
    runs.forEach(function (r, i) {
      var option = C.el('option', { value: String(r.id) }, runText(r, i === 0));
      if (wanted === 'latest' ? i === 0 : String(r.id) === wanted) option.selected = true;
      select.appendChild(option);
    });
    select.parentNode.hidden = runs.length < 2;
  }
  function chooseRun() {
    var id = $('run-choice').value;
    source.setRun(runs.length && String(runs[0].id) === id ? 'latest' : id);
    S.hits = [];
    P.state.activeTopic = null;
    P.state.activeNode = null;
    P.mapView.setOverlay('hits', []);
    P.mapView.setOverlay('owner', []);
    $('results').hidden = true;
    $('flow-docs').hidden = true;
    drawn = {};
    document.body.setAttribute('data-ready', 'loading');
    return loadAll().then(function () {   // the tab shown is drawn again, of the run chosen
      Array.prototype.forEach.call(document.querySelectorAll('.tabs button'), function (b) {
        if (b.getAttribute('aria-selected') === 'true') selectView(b.getAttribute('data-view'));
      });
    });
  }

  // Titles (for hover) arrive after the first drawing of the map: most of the map's bytes.
  function loadTitles() {
    var pts = P.mapView.points();
    if (!pts || pts.title) return Promise.resolve();
    return source.titles(pts).then(function (titles) {
      if (titles && P.mapView.points() === pts) { P.mapView.setTitles(titles); return P.mapView.render(); }
    });
  }
  function setPoints(pts) {
    P.mapView.setPoints(pts);
    var newest = runs.length ? runs[0].id : pts.run;
    $('map-note').textContent = 'run ' + pts.run + (pts.run === newest ? '' : ' (not the newest: run ' + newest + ' is)') +
      ' \u00b7 ' + C.fmtInt(pts.count) + ' points' +
      (pts.placedCount ? ' (' + C.fmtInt(pts.placedCount) + ' added since the map was built)' : '');
    document.body.setAttribute('data-run', String(pts.run));
  }

  // ---------- topics: a click shows the topic on the map ----------
  function selectTopic(cluster) {
    P.state.activeTopic = P.state.activeTopic === cluster && !P.state.activeNode ? null : cluster;
    P.state.activeNode = null;
    P.topicTable.markActive();
    selectView('map');
    return P.mapView.render();
  }
  // a node of a level above the topics: its topics' points are shown on the map
  function selectNode(level, node, fromTable) {
    var an = P.state.activeNode, same = an && an.level === level && an.node === node;
    P.state.activeNode = same && fromTable ? null : { level: level, node: node };
    P.state.activeTopic = null;
    P.topicTable.markActive();
    if (!fromTable) P.topicTable.expand(level, node);
    selectView('map');
    return P.mapView.render();
  }
  P.topicTable.onSelect(selectTopic);
  P.topicTable.onSelectNode(selectNode);
  P.panel.onNode(function (level, node) { return selectNode(level, node, false); });
  P.topicTable.onOpen(function (id) { return P.panel.show(id); });
  // ---------- renaming a topic or a node: then the table, the map's labels and its key show the name ----------
  var renames = 0;
  P.topicTable.onRename(function (level, node, name) {
    var pts = P.mapView.points();
    return source.rename(pts ? pts.run : 'latest', level, node, name).then(function (named) {
      return source.topicTree().then(function (tree) {
        C.setTopics(tree.topics, tree.levels, tree.subtopics);
        P.topicTable.render();
        P.hierarchy.refreshKey();
        drawn = {};   // evolution and graph are drawn again, with the name, when next shown
        return P.mapView.relabelled();
      }).then(function () {
        document.body.setAttribute('data-renamed', String(++renames));
        return named;
      });
    });
  });
  P.graphView.onSelect(selectTopic);
  // a burst's topic (or node, or sub-topic: its topic) shown on the map
  P.emergingView.onTopic = function (level, node) {
    var top = P.hierarchy.top();
    if (level === top) return selectTopic(node);
    if (level < top) return selectNode(level, node, false);
    var sub = C.arr(P.state.subtopics).filter(function (s) { return s.node === node; })[0];
    return sub ? selectTopic(sub.parent) : null;
  };

  // ---------- search ----------
  function runSearch(event) {
    if (event) event.preventDefault();
    var text = $('search-input').value.trim();
    if (!text) return clearSearch();
    var mode = $('search-mode').value;
    var body = P.mapView.has(text) ? { like: text, k: 20, mode: 'vector' } : { query: text, k: 20, mode: mode };
    return source.search(body).then(function (result) {
      S.hits = result.hits.map(function (h) { return h.id; });
      P.mapView.setOverlay('hits', S.hits);
      P.panel.hitList($('result-list'), result.hits);
      $('results-count').textContent = '(' + result.hits.length + (body.like ? ' like ' + body.like : '') + ')';
      $('results').hidden = false;
      $('panel-hint').hidden = true;
      document.body.setAttribute('data-hits', String(S.hits.length));
      return P.mapView.render();
    }).catch(function (err) { C.showError('Search failed: ' + err.message); });
  }
  function clearSearch() {
    $('search-input').value = '';
    S.hits = [];
    P.mapView.setOverlay('hits', []);
    P.mapView.setIdea(null);
    $('idea-result').hidden = true;
    $('results').hidden = true;
    document.body.setAttribute('data-hits', '0');
    return P.mapView.render();
  }

  // ---------- views ----------
  // A view asked for again before its answer came (another kind of burst chosen meanwhile) draws
  // the newest answer only: an older one arriving late must not replace it.
  var asked = {};
  function newest(name, answer, draw) {
    var mine = asked[name] = (asked[name] || 0) + 1;
    return answer.then(function (result) { return asked[name] === mine ? draw(result) : null; });
  }
  var drawn = {};
  var draws = {
    evolution: function () { return source.evolution().then(function (evo) { return P.evolutionView.render($('evolution'), evo, $('evo-mode').value); }); },
    graph: function () { return source.graph().then(function (graph) { return P.graphView.render($('graph'), graph); }); },
    emerging: function () {
      var by = $('emerging-by').value;
      return newest('emerging', source.emerging(by), function (result) { return P.emergingView.render($('emerging'), result, by); });
    },
    owners: function () {
      fillOwnerTopics();
      return newest('owners', source.owners($('owners-topic').value, $('owners-by').value === 'families'), function (view) {
        P.ownersView.render($('owners-table'), view, $('owners-compare'));
        return P.ownersView.matrix($('owners-matrix'), view);
      });
    },
    lineage: function () {
      fillLevels();
      var level = $('lineage-level').value, windows = $('lineage-across').value === 'windows';
      $('lineage-runs-box').hidden = windows;
      $('lineage-years-box').hidden = !windows;
      $('lineage-hint').textContent = windows
        ? 'Which earlier topic each period\'s patents build on: a patent flows from the topic its nearest patents of the window before are in ' +
          'to its own (blue: the same topic, orange: another, green: nothing near before). Click a flow to list its patents.'
        : 'Where each topic\'s patents went from one run to the next (blue: same id, orange: moved, green: new, grey: deleted). ' +
          'Click a flow to list its patents.';
      return newest('lineage', source.flows($('lineage-runs').value, level, $('lineage-min').value, windows ? $('lineage-years').value : null),
                    function (view) {
                      if (!windows && !lineageFirst && C.arr(view.columns).length < 2) {
                        lineageFirst = true;   // no run before this one: its time windows are what there is to draw
                        $('lineage-across').value = 'windows';
                        return draws.lineage();
                      }
                      lineageFirst = true;
                      lineageShown = view;
                      return P.lineageView.render($('lineage'), view);
                    });
    }
  };
  // the topics whose owners can be shown
  function fillOwnerTopics() {
    var select = $('owners-topic'), keep = select.value;
    C.clear(select);
    select.appendChild(C.el('option', { value: '' }, 'the whole map'));
    P.state.topics.slice().sort(function (a, b) { return b.size - a.size; }).forEach(function (t) {
      select.appendChild(C.el('option', { value: String(t.cluster) }, '#' + t.cluster + ' ' + C.clip(C.topicLabel(t.cluster), 50)));
    });
    select.value = keep && P.state.topicById[Number(keep)] ? keep : '';
  }
  // an owner's portfolio on the map
  P.ownersView.onShow = function (owner) {
    P.mapView.setOverlay('owner', C.arr(owner.ids));
    document.body.setAttribute('data-portfolio', String(C.arr(owner.ids).length));
    $('map-note').textContent = C.clip(C.str(owner.name), 60) + ': ' + C.fmtInt(C.arr(owner.ids).length) + ' patents ringed on the map';
    selectView('map');
    return P.mapView.render();
  };
  // the lineage view's levels: the topics, and each level above them by name
  function fillLevels() {
    var select = $('lineage-level'), H = P.hierarchy, keep = select.value;
    C.clear(select);
    select.appendChild(C.el('option', { value: '' }, 'topics'));
    for (var i = 0; i < H.top(); i++) select.appendChild(C.el('option', { value: String(i) }, H.levelName(i) + ' (level ' + i + ')'));
    select.value = keep && Number(keep) < H.top() ? keep : '';
  }
  var lineageShown = null, lineageFirst = false;
  P.lineageView.onFlow = function (from, to, flow) {
    if (!lineageShown) return null;
    var shown = lineageShown;
    return source.flowDocuments(shown, from, to, flow.source, flow.target).then(function (found) {
      P.lineageView.renderDocuments($('flow-docs'), shown, from, to, flow, found.documents, found.count,
                                    function (id) { return P.panel.show(id); });
      $('panel-hint').hidden = true;
    }).catch(function (err) { C.showError('The flow\'s documents could not be read: ' + err.message); });
  };
  function selectView(name) {
    Array.prototype.forEach.call(document.querySelectorAll('.tabs button'), function (b) {
      b.setAttribute('aria-selected', b.getAttribute('data-view') === name ? 'true' : 'false');
    });
    ['map', 'evolution', 'graph', 'emerging', 'lineage', 'owners'].forEach(function (v) { $('view-' + v).hidden = v !== name; });
    if (draws[name] && !drawn[name]) {
      drawn[name] = true;
      draws[name]().catch(function (err) { drawn[name] = false; C.showError('The ' + name + ' view could not be drawn: ' + err.message); });
    } else if (name === 'map' && P.mapView.points()) {
      window.Plotly.Plots.resize($('map'));
    }
  }

  // ---------- drop an idea (patscape locate) ----------
  function placeIdea(event) {
    event.preventDefault();
    var text = $('idea-text').value.trim();
    if (!text) { $('idea-message').textContent = 'Paste a text, or choose a file, first.'; return null; }
    $('idea-message').textContent = 'placing\u2026';
    document.body.setAttribute('data-idea', 'running');
    return source.locate(text, $('idea-as').value).then(function (found) {
      showIdea(found);
      $('idea-message').textContent = '';
      $('idea').open = false;
      document.body.setAttribute('data-idea', 'done');
    }).catch(function (err) {
      $('idea-message').textContent = 'It could not be placed: ' + err.message;
      document.body.setAttribute('data-idea', 'failed');
    });
  }
  function showIdea(found) {
    var topic = found.topic || {};
    $('idea-where').textContent = topic.cluster >= 0 ? 'Lands in topic #' + topic.cluster + ' ' + C.str(topic.label) + '.'
      : 'Lands in no topic: its nearest patents are spread over several.';
    $('idea-crowding').textContent = C.isNum(found.density_percentile)
      ? 'Its neighbourhood is more crowded than ' + Math.round(found.density_percentile) + '% of the landscape\u2019s' +
        (found.density_percentile < 10 ? ': white space.' : '.') : '';
    var topics = $('idea-topics');
    C.clear(topics);
    C.arr(found.topics).slice(0, 5).forEach(function (t) {
      topics.appendChild(C.el('li', null, [C.dot(t.cluster), ' #' + t.cluster + ' ' + C.str(t.label) + ' \u00b7 ' +
        C.fmtPct(t.share, 0) + ' of its ' + C.fmtInt(found.neighbourhood) + ' nearest']));
    });
    P.panel.hitList($('idea-patents'), C.arr(found.patents));
    $('idea-owners').textContent = C.arr(found.owners).length ? 'Active there: ' + C.arr(found.owners).slice(0, 6).map(function (o) {
      return C.str(o.name) + ' (' + C.fmtInt(o.patents) + ')'; }).join(', ') : '';
    $('idea-result').hidden = false;
    $('panel-hint').hidden = true;
    P.mapView.setIdea({ x: found.x, y: found.y, label: 'your text: ' + (topic.cluster >= 0 ? '#' + topic.cluster + ' ' + C.str(topic.label) : 'no topic') });
    P.mapView.setOverlay('hits', C.arr(found.patents).map(function (h) { return h.id; }));
    document.body.setAttribute('data-idea-patents', String(C.arr(found.patents).length));
    selectView('map');
    return P.mapView.render();
  }
  $('idea-file').addEventListener('change', function () {
    var file = $('idea-file').files && $('idea-file').files[0];
    if (!file) return;
    var reader = new FileReader();
    reader.onload = function () { $('idea-text').value = String(reader.result || ''); };
    reader.onerror = function () { $('idea-message').textContent = 'The file could not be read.'; };
    reader.readAsText(file);
  });
  $('idea-form').addEventListener('submit', placeIdea);
  // the header's drop-down boxes open under their summary, kept inside the window
  ['idea', 'upload'].forEach(function (id) {
    $(id).addEventListener('toggle', function () {
      if (!this.open) return;
      var box = this.querySelector('.upload-box');
      box.style.left = '0px'; box.style.right = 'auto';
      var over = box.getBoundingClientRect().right - (window.innerWidth - 12);
      if (over > 0) box.style.left = (-over) + 'px';
    });
  });
  $('map-density').addEventListener('change', function () {
    document.body.setAttribute('data-contours', $('map-density').checked ? 'on' : 'off');
    return P.mapView.showContours($('map-density').checked);
  });

  // ---------- uploads ----------
  function upload(event) {
    event.preventDefault();
    var files = $('upload-files').files;
    if (!files || !files.length) { $('upload-message').textContent = 'Choose one or more files first.'; return; }
    var form = new FormData();
    Array.prototype.forEach.call(files, function (f) { form.append('files', f, f.name); });
    var progress = $('upload-progress');
    progress.hidden = false;
    progress.value = 0;
    $('upload-message').textContent = 'uploading\u2026';
    document.body.setAttribute('data-upload', 'running');
    source.upload(form).then(follow).catch(function (err) {
      $('upload-message').textContent = 'Upload failed: ' + err.message;
      document.body.setAttribute('data-upload', 'failed');
    });
  }
  function follow(job) {
    var progress = $('upload-progress');
    progress.max = Math.max(job.total, 1);
    progress.value = job.done;
    $('upload-message').textContent = job.stage + (job.total ? ' ' + job.done + '/' + job.total : '') + '\u2026';
    if (job.state === 'done' || job.state === 'failed') return finished(job);
    return new Promise(function (resolve) { setTimeout(resolve, 400); })
      .then(function () { return source.job(job.id); })
      .then(follow);
  }
  function finished(job) {
    $('upload-progress').hidden = true;
    if (job.state === 'failed') {
      $('upload-message').textContent = 'Failed: ' + (job.message || 'unknown error');
      document.body.setAttribute('data-upload', 'failed');
      return;
    }
    var parts = [job.added + ' added', job.unchanged + ' unchanged', job.duplicates + ' duplicates', job.skipped + ' skipped',
                 job.placed + ' placed on the map'];
    $('upload-message').textContent = 'Done: ' + parts.join(', ') + (job.message ? '. ' + job.message : '') +
      (job.problems.length ? '. Problems: ' + job.problems.slice(0, 3).join('; ') : '');
    S.justPlaced = job.documents.slice();
    P.mapView.setOverlay('added', S.justPlaced);
    drawn = {};  // evolution and graph are drawn again when next shown
    return Promise.all([source.topicTree(), source.map(), source.corpus()]).then(function (all) {
      C.setTopics(all[0].topics, all[0].levels, all[0].subtopics);
      setPoints(all[1]);
      showStats(all[2]);
      P.topicTable.render();
      return P.mapView.render();
    }).then(loadTitles).then(function () {
      document.body.setAttribute('data-points', String(P.mapView.points().count));
      document.body.setAttribute('data-upload', 'done');
    });
  }

  // ---------- wiring ----------
  if (typeof window.Plotly !== 'object' || window.Plotly === null) {
    C.showError('plotly.js did not load; the charts cannot be drawn.');
    document.body.setAttribute('data-ready', 'error');
    return;
  }
  P.mapView.init($('map'), function (id) { return P.panel.show(id); });
  $('search-form').addEventListener('submit', runSearch);
  $('search-clear').addEventListener('click', clearSearch);
  $('upload-form').addEventListener('submit', upload);
  $('evo-mode').addEventListener('change', function () { if (drawn.evolution) draws.evolution(); });
  $('run-choice').addEventListener('change', chooseRun);
  ['owners-topic', 'owners-by'].forEach(function (id) {
    $(id).addEventListener('change', function () {
      if (drawn.owners) draws.owners().catch(function (err) { C.showError('The owners could not be shown: ' + err.message); });
    });
  });
  ['lineage-across', 'lineage-runs', 'lineage-years', 'lineage-level', 'lineage-min'].forEach(function (id) {
    $(id).addEventListener('change', function () {
      if (drawn.lineage) draws.lineage().catch(function (err) { C.showError('The lineage view could not be drawn: ' + err.message); });
    });
  });
  $('emerging-by').addEventListener('change', function () {
    if (drawn.emerging) draws.emerging().catch(function (err) { C.showError('The emerging view could not be drawn: ' + err.message); });
  });
  $('auth').addEventListener('submit', function (event) {
    event.preventDefault();
    var key = $('api-key').value.trim();
    if (!key) { $('auth-message').textContent = 'Type the key first.'; return; }
    source.setKey(key);
    source.forgetPrefetched();
    $('api-key').value = '';
    $('auth').hidden = true;
    $('auth-message').textContent = '';
    document.body.setAttribute('data-auth', 'given');
    loadAll();
  });
  Array.prototype.forEach.call(document.querySelectorAll('.tabs button'), function (b) {
    b.addEventListener('click', function () { selectView(b.getAttribute('data-view')); });
  });
  window.addEventListener('error', function (e) { C.showError('Script error: ' + (e && e.message ? e.message : e)); });
  loadAll();
})();
