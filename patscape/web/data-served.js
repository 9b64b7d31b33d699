/* patscape views, data layer of the served UI: everything comes from the API of `patscape serve`.
 *
 * Both data layers (this one and data-embedded.js) offer the same calls, each returning a
 * Promise of the same shapes, so that the views never know where their data comes from:
 *   corpus()        {documents, runs: [...], model}
 *   topics()        [{cluster, label, size, placed, keywords, keywords_by_language, codes: [{scheme, code, share, title}],
 *                     representatives: [{id, title}], languages, growth, momentum, recent, corpus_growth,
 *                     first_year, peak_year, median_year, parent}]
 *   topicTree()     {topics: as topics(), levels: [[{level, node, parent, children, label, size, keywords,
 *                     keywords_by_language, codes, representatives, languages}]] top first ([] without levels),
 *                   subtopics: [node records of the level below the topics, parent: the topic]}
 *   map()           points column-wise (see columnsToPoints); titles may come later: titles(points)
 *   evolution()     {years, recent_from, recent_to, partial_year, data_to, topics: [{cluster, label, per_year, ...}]}
 *   graph()         {nodes: [{id, label, size, x, y}], links: [{source, target, similarity, citations}]}
 *   document(id)    {id, title, abstract, ..., cluster, label, neighbours: [hits]}
 *   owners(topic, byFamily)  organisations with their patents, families, growth, topics and ids (/corpus/runs/R/owners)
 *   flows(runs, level, min, years)  the alluvial view of the run's lineage, or of its time windows (/corpus/runs/R/flows)
 * The served layer adds search(), upload jobs, rename(run, level, node, name), the run shown
 * (run(), setRun(run)) and a flow's documents (flowDocuments), which the report has not.
 */
(function () {
  'use strict';
  var P = window.patscape = window.patscape || {};
  var C = P.core;

  // With `patscape serve --api-key`, every API call wants `Authorization: Bearer KEY`. The page
  // asks for the key on the first 401 and keeps it in sessionStorage: for this tab only, gone
  // when the tab closes, never in a cookie (so other sites' pages cannot make use of it).
  var KEY_STORE = 'patscape-api-key';
  var memoryKey = '';
  function apiKey() { try { return window.sessionStorage.getItem(KEY_STORE) || memoryKey; } catch (e) { return memoryKey; } }
  function setKey(key) {
    memoryKey = key;
    try { window.sessionStorage.setItem(KEY_STORE, key); } catch (e) { /* storage off: kept in memory */ }
  }
  function api(path, options) {
    options = options || {};
    var headers = options.headers || {};
    var key = apiKey();
    if (key) headers['Authorization'] = 'Bearer ' + key;
    if (options.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      options.body = JSON.stringify(options.json);
    }
    return fetch(path, { method: options.method || 'GET', headers: headers, body: options.body })
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (body) {
          if (response.status === 401 && P.source.onUnauthorised) P.source.onUnauthorised(body && body.error && body.error.message, !!apiKey());
          if (!response.ok) {
            var message = body && body.error && body.error.message ? body.error.message : response.statusText;
            var err = new Error(message);
            err.status = response.status;
            throw err;
          }
          return body;
        });
      });
  }

  function topicsOf(list) { return C.arr(list.topics); }
  function treeOf(list) {
    return { topics: C.arr(list.topics), levels: C.arr(list.levels), subtopics: C.arr(list.subtopics), hierarchy: C.obj(list.hierarchy) };
  }

  // The first requests start as soon as this file runs, while the browser still parses plotly.js
  // (index.html loads this file before it): the first answer of each call is the prefetched one.
  var early = {};
  function first(name, fetcher) {
    if (early[name]) { var p = early[name]; delete early[name]; return p; }
    return fetcher();
  }
  function prefetch(name, fetcher) {
    early[name] = fetcher();
    early[name].catch(function () { /* handled by whoever takes it */ });
  }
  // The run shown: `?run=N` in the page's address, else the newest (`latest`); setRun changes it.
  var RUN = (function () {
    var m = /[?&]run=(\d+)(?:&|$)/.exec(window.location.search || '');
    return m ? m[1] : 'latest';
  })();
  function runPath(rest) { return '/corpus/runs/' + encodeURIComponent(RUN) + rest; }
  function mapUrl() { return runPath('/map?format=columns&fields=id,cluster,x,y,placed,subtopic'); }

  P.source = {
    kind: 'served',
    api: api,
    setKey: setKey,
    hasKey: function () { return !!apiKey(); },
    forgetPrefetched: function () { early = {}; },   // e.g. made without the API key given since
    onUnauthorised: null,
    corpus: function () { return first('corpus', function () { return api('/corpus'); }); },
    run: function () { return RUN; },
    // show another run: 'latest' or a run id (the page's address follows, so it can be shared)
    setRun: function (run) {
      RUN = String(run);
      early = {};
      try {
        var url = new URL(window.location.href);
        if (RUN === 'latest') url.searchParams.delete('run'); else url.searchParams.set('run', RUN);
        window.history.replaceState(null, '', url.toString());
      } catch (e) { /* an address that cannot change: the run is still shown */ }
    },
    topics: function () { return first('topics', function () { return api(runPath('/topics')); }).then(topicsOf); },
    topicTree: function () { return first('topics', function () { return api(runPath('/topics')); }).then(treeOf); },
    // The positions first; the titles (most of the bytes) once the map is drawn: titles(points).
    map: function () {
      return first('map', function () { return api(mapUrl()); }).then(function (view) {
        return C.columnsToPoints(view.columns, view.count, { run: view.run, placedCount: view.placed,
                                                             subtopic: C.arr(view.columns.subtopic) });
      });
    },
    titles: function (points) {
      return api('/corpus/runs/' + encodeURIComponent(points.run) + '/map?format=columns&fields=id,title').then(function (view) {
        var ids = C.arr(view.columns.id), titles = C.arr(view.columns.title);
        if (view.run !== points.run || ids.length !== points.count || titles.length !== ids.length) return null;
        for (var i = 0; i < ids.length; i++) if (ids[i] !== points.id[i]) return null;   // the map changed meanwhile
        return titles;
      });
    },
    evolution: function () { return api(runPath('/evolution')); },
    emerging: function (by) { return api(runPath('/emerging?by=' + encodeURIComponent(by || 'topic'))); },
    graph: function () { return api(runPath('/graph')); },
    // the alluvial view: the run and up to runs - 1 before it, or with years its own windows; level '' for the topics
    flows: function (runs, level, min, years) {
      return api(runPath('/flows?runs=' + encodeURIComponent(runs) + (level !== '' && level != null ? '&level=' + encodeURIComponent(level) : '') +
                         '&min_documents=' + encodeURIComponent(min) + (years ? '&years=' + encodeURIComponent(years) : '')));
    },
    // where a text lands (patscape locate); as: 'query' or 'document'
    locate: function (text, as) {
      var body = { text: text, as: as || 'query' };
      if (RUN !== 'latest') body.run = Number(RUN);
      return api('/corpus/locate', { method: 'POST', json: body });
    },
    // who holds what: the whole map's owners, or a topic's (topic: its id, or '' for all)
    owners: function (topic, byFamily) {
      return api(runPath('/owners?top=50&all_topics=true&ids=true' + (topic !== '' && topic != null ? '&topic=' + encodeURIComponent(topic) : '') +
                         (byFamily ? '&by_family=true' : '')));
    },
    // a flow's documents: view (its answer), before and after (its columns' keys)
    flowDocuments: function (view, before, after, source, target) {
      var windows = view.kind === 'windows', level = view.level;
      return api('/corpus/runs/' + encodeURIComponent(windows ? view.run : after) + '/flows/documents?before=' + encodeURIComponent(before) +
                 '&source=' + encodeURIComponent(source) + '&target=' + encodeURIComponent(target) +
                 (windows ? '&years=' + encodeURIComponent(view.years) : '') + (level != null ? '&level=' + encodeURIComponent(level) : ''));
    },
    document: function (id) { return api('/corpus/documents/' + encodeURIComponent(id) + (RUN === 'latest' ? '' : '?run=' + encodeURIComponent(RUN))); },
    search: function (body) {
      if (RUN !== 'latest') body.run = Number(RUN);
      return api('/corpus/search', { method: 'POST', json: body });
    },
    upload: function (form) { return api('/corpus/uploads', { method: 'POST', body: form }); },
    job: function (id) { return api('/corpus/jobs/' + encodeURIComponent(id)); },
    // an analyst's name for a topic (level: the topics') or a node of a level above them
    rename: function (run, level, node, name) {
      return api('/corpus/runs/' + encodeURIComponent(run) + '/levels/' + encodeURIComponent(level) + '/nodes/' +
                 encodeURIComponent(node) + '/name', { method: 'PUT', json: { name: name } });
    }
  };
  prefetch('corpus', function () { return api('/corpus'); });
  prefetch('topics', function () { return api(runPath('/topics')); });
  prefetch('map', function () { return api(mapUrl()); });
})();
