/* patscape web UI: the map, topics, search, evolution, the topic graph and uploads.
 *
 * Patent text is untrusted. It reaches the page only through textContent (never innerHTML),
 * and text handed to plotly (hover, labels, legend), which reads a little HTML, is escaped
 * first. The page's Content-Security-Policy allows scripts from this server only.
 */
(function () {
  'use strict';

  // ---------- helpers ----------
  function $(id) { return document.getElementById(id); }
  function el(tag, className, children) {
    var e = document.createElement(tag);
    if (className) e.className = className;
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
  function str(v) { return v == null ? '' : String(v); }
  function isNum(v) { return typeof v === 'number' && isFinite(v); }
  function clip(s, n) { s = str(s); return s.length > n ? s.slice(0, n - 1) + '\u2026' : s; }
  // For plotly, which reads <br>, <b>, &amp; ... in text: make data text inert. Without a '<' no
  // tag (and so no attribute) exists, so quotes need nothing; plotly would show '&quot;' as is.
  function esc(s) {
    return str(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  }
  function fmtInt(v) { return isNum(v) ? Math.round(v).toLocaleString('en-US') : '\u2014'; }
  function fmtPct(v) { return isNum(v) ? (v > 0 ? '+' : '') + Math.round(v * 100) + '%' : '\u2014'; }
  function showError(message) {
    var box = $('errors');
    box.hidden = false;
    box.appendChild(el('div', null, String(message)));
  }
  function clearErrors() { clear($('errors')); $('errors').hidden = true; }

  var PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#17becf',
    '#bcbd22', '#393b79', '#637939', '#8c6d31', '#843c39', '#7b4173', '#3182bd', '#e6550d', '#31a354',
    '#756bb1', '#636363', '#6baed6', '#fd8d3c', '#74c476', '#9e9ac8', '#e7969c', '#de9ed6', '#5254a3'];
  function colour(cluster) { return cluster < 0 ? '#b8bec8' : PALETTE[cluster % PALETTE.length]; }

  // ---------- the API ----------
  // With `patscape serve --api-key`, every API call wants `Authorization: Bearer KEY`. The page
  // asks for the key on the first 401 and keeps it in sessionStorage: for this tab only, gone
  // when the tab closes, never in a cookie (so other sites' pages cannot make use of it).
  var KEY_STORE = 'patscape-api-key';
  var memoryKey = '';
  function apiKey() { try { return window.sessionStorage.getItem(KEY_STORE) || memoryKey; } catch (e) { return memoryKey; } }
  function askForKey(message) {
    var form = $('auth');
    var first = form.hidden;
    form.hidden = false;
    $('auth-message').textContent = apiKey() ? message || 'incorrect API key' : '';
    document.body.setAttribute('data-auth', 'needed');
    if (first) $('api-key').focus();
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
          if (response.status === 401) askForKey(body && body.error && body.error.message);
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

  // ---------- state ----------
  var S = {
    run: null, points: [], byId: {}, topics: [], topicById: {}, labels: {},
    hits: [], selected: null, activeTopic: null, justPlaced: [], webgl: false
  };
  var mapDiv = $('map');
  var plotConfig = { responsive: true, displaylogo: false, scrollZoom: true,
    modeBarButtonsToRemove: ['select2d', 'lasso2d', 'toImage'] };

  function topicLabel(cluster) {
    if (cluster < 0) return 'outlier';
    return S.labels[cluster] != null ? S.labels[cluster] : 'topic ' + cluster;
  }

  // ---------- loading ----------
  function loadAll() {
    clearErrors();
    return api('/corpus').then(function (corpus) {
      showStats(corpus);
      if (!corpus.runs.length) {
        $('map-note').textContent = 'This corpus has no map yet: run `patscape map` first.';
        document.body.setAttribute('data-ready', 'no-run');
        return null;
      }
      return Promise.all([api('/corpus/runs/latest/topics'), api('/corpus/runs/latest/map')])
        .then(function (both) {
          setTopics(both[0]);
          setPoints(both[1]);
          renderTopics();
          return renderMap();
        })
        .then(function () {
          document.body.setAttribute('data-ready', 'yes');
          document.body.setAttribute('data-points', String(S.points.length));
        });
    }).catch(function (err) {
      if (err.status === 401) {  // the key form is shown; loading starts again once a key is given
        document.body.setAttribute('data-ready', 'auth');
        return;
      }
      showError('The corpus could not be loaded: ' + err.message);
      document.body.setAttribute('data-ready', 'error');
    });
  }
  function showStats(corpus) {
    $('stats').textContent = fmtInt(corpus.documents) + ' documents \u00b7 ' + corpus.runs.length +
      ' map' + (corpus.runs.length === 1 ? '' : 's') + ' \u00b7 model ' + corpus.model;
  }
  function setTopics(list) {
    S.topics = list.topics;
    S.labels = {};
    S.topicById = {};
    S.topics.forEach(function (t) { S.labels[t.cluster] = t.label; S.topicById[t.cluster] = t; });
  }
  function setPoints(view) {
    S.run = view.run;
    S.points = view.points;
    S.byId = {};
    S.points.forEach(function (p) { S.byId[p.id] = p; });
    $('map-note').textContent = 'run ' + view.run + ' \u00b7 ' + fmtInt(view.count) + ' points' +
      (view.placed ? ' (' + fmtInt(view.placed) + ' added since the map was built)' : '');
  }

  // ---------- the map ----------
  function hoverText(p) {
    return '<b>' + esc(clip(p.title || '(no title)', 120)) + '</b><br>' + esc(p.id) + '<br>' +
      esc(clip(topicLabel(p.cluster), 60)) + (p.placed ? '<br><i>added since the map was built</i>' : '');
  }
  function pointTraces() {
    var type = S.points.length > 20000 ? 'scattergl' : 'scatter';
    var groups = {};
    S.points.forEach(function (p) {
      var key = p.placed ? 'placed' : String(p.cluster);
      (groups[key] = groups[key] || []).push(p);
    });
    var keys = Object.keys(groups).filter(function (k) { return k !== 'placed'; })
      .sort(function (a, b) { return Number(a) - Number(b); });
    if (groups.placed) keys.push('placed');
    return keys.map(function (key) {
      var pts = groups[key];
      var placed = key === 'placed';
      var cluster = placed ? null : Number(key);
      var dim = S.activeTopic != null && (placed || cluster !== S.activeTopic);
      return {
        type: type, mode: 'markers', meta: 'points',
        name: placed ? 'added since the map' : esc(clip((cluster < 0 ? '' : '#' + cluster + ' ') + topicLabel(cluster), 40)),
        x: pts.map(function (p) { return p.x; }), y: pts.map(function (p) { return p.y; }),
        customdata: pts.map(function (p) { return p.id; }),
        hovertext: pts.map(hoverText), hoverinfo: 'text',
        marker: {
          size: placed ? 10 : (cluster < 0 ? 5 : 7),
          symbol: placed ? 'diamond' : 'circle',
          color: placed ? pts.map(function (p) { return colour(p.cluster); }) : colour(cluster),
          opacity: dim ? 0.12 : (cluster < 0 ? 0.55 : 0.85),
          line: placed ? { width: 1.5, color: '#111' } : { width: 0 }
        }
      };
    });
  }
  function overlayTrace(name, ids, marker) {
    var pts = ids.map(function (id) { return S.byId[id]; }).filter(Boolean);
    return {
      type: 'scatter', mode: 'markers', meta: 'overlay:' + name, name: name, showlegend: false,
      x: pts.map(function (p) { return p.x; }), y: pts.map(function (p) { return p.y; }),
      customdata: pts.map(function (p) { return p.id; }),
      hovertext: pts.map(hoverText), hoverinfo: 'text', marker: marker
    };
  }
  var MAX_LABELS = 30;
  function topicAnnotations() {
    var sums = {};
    S.points.forEach(function (p) {
      if (p.cluster < 0 || p.placed) return;
      var s = sums[p.cluster] = sums[p.cluster] || { x: [], y: [] };
      s.x.push(p.x); s.y.push(p.y);
    });
    function median(v) { v.sort(function (a, b) { return a - b; }); var m = v.length >> 1; return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2; }
    // Labels of the largest topics only, so that they stay readable; hover and the topic table name the rest.
    var keys = Object.keys(sums).sort(function (a, b) { return sums[b].x.length - sums[a].x.length || a - b; })
      .slice(0, MAX_LABELS);
    return keys.map(function (k) {
      var c = Number(k);
      return {
        x: median(sums[k].x), y: median(sums[k].y), text: esc(clip(topicLabel(c), 28)), showarrow: false,
        font: { size: 11, color: '#1d2330' }, bgcolor: 'rgba(255,255,255,0.7)', borderpad: 2,
        opacity: S.activeTopic == null || S.activeTopic === c ? 1 : 0.25
      };
    });
  }
  function renderMap() {
    var traces = pointTraces();
    traces.push(overlayTrace('search hits', S.hits, { size: 15, color: 'rgba(0,0,0,0)', line: { width: 2.5, color: '#d62728' } }));
    traces.push(overlayTrace('added', S.justPlaced, { size: 18, color: 'rgba(0,0,0,0)', line: { width: 2.5, color: '#111' }, symbol: 'diamond-open' }));
    traces.push(overlayTrace('selected', S.selected ? [S.selected] : [], { size: 18, symbol: 'star', color: '#ffd400', line: { width: 1.5, color: '#111' } }));
    var layout = {
      margin: { l: 10, r: 10, t: 10, b: 10 }, hovermode: 'closest', dragmode: 'zoom', uirevision: 'map',
      xaxis: { showgrid: false, zeroline: false, showticklabels: false },
      yaxis: { showgrid: false, zeroline: false, showticklabels: false },
      legend: { font: { size: 11 }, itemsizing: 'constant' }, showlegend: S.topics.length <= 40,
      annotations: topicAnnotations(), plot_bgcolor: '#fbfcfd',
      hoverlabel: { align: 'left', bgcolor: '#ffffff', font: { size: 12, color: '#1d2330' } }
    };
    return window.Plotly.react(mapDiv, traces, layout, plotConfig).then(function () {
      if (!mapDiv._patscapeWired) {
        mapDiv._patscapeWired = true;
        mapDiv.on('plotly_click', function (event) {
          var point = event && event.points && event.points[0];
          if (point && point.customdata != null) showDocument(String(point.customdata));
        });
      }
    });
  }

  // ---------- the document panel ----------
  function hitItem(hit) {
    var evidence = hit.passage;
    var button = el('button', null, [
      el('span', 't', [dot(hit.cluster), clip(hit.title || '(no title)', 160)]),
      el('span', 'm', [hit.id, hit.date ? ' \u00b7 ' + hit.date : '', isNum(hit.score) ? ' \u00b7 ' + hit.score.toFixed(3) : '',
        hit.cluster != null ? ' \u00b7 ' + clip(topicLabel(hit.cluster), 40) : '']),
      // the passage that matched: the evidence for this hit, shown as text (never as HTML)
      evidence ? el('span', 'evidence', [el('span', 'evidence-field', evidence.field + ' \u00b7 ' + evidence.score.toFixed(3)),
        el('mark', null, clip(evidence.text, 320))]) : null
    ]);
    button.type = 'button';
    button.setAttribute('data-id', hit.id);
    button.addEventListener('click', function () { showDocument(hit.id, evidence); });
    return el('li', null, button);
  }
  // Lines of a field with their character offsets in it (blank lines dropped, as lines() does).
  function linesAt(text) {
    var out = [], at = 0;
    str(text).split('\n').forEach(function (line) {
      if (line.trim()) out.push({ text: line, start: at });
      at += line.length + 1;
    });
    return out;
  }
  // Wrap field[start:end] in <mark> inside the rendered lines of a field (one element per line).
  function markPassage(container, field, evidence) {
    var first = null;
    linesAt(field).forEach(function (line, i) {
      var from = Math.max(evidence.start - line.start, 0), to = Math.min(evidence.end - line.start, line.text.length);
      var node = container.children[i];
      if (!node || from >= to) return;
      var numbered = node.tagName === 'LI' ? /^(\d+\s*[.)\u3001\uff0e]\s*)/.exec(line.text) : null;
      var skip = numbered ? numbered[1].length : 0;  // a claim's number is shown by the list, not in its text
      var text = line.text.slice(skip);
      from = Math.max(from - skip, 0);
      to = Math.max(to - skip, 0);
      clear(node);
      add(node, [text.slice(0, from), el('mark', 'passage', text.slice(from, to)), text.slice(to)]);
      first = first || node;
    });
    return first;
  }
  function dot(cluster) {
    var d = el('span', 'dot');
    d.style.background = cluster == null ? 'transparent' : colour(cluster);
    return d;
  }
  function lines(text) { return str(text).split('\n').filter(function (line) { return line.trim(); }); }
  // One claim per line; a leading "12." becomes the item's number so it is not shown twice.
  function showClaims(claims) {
    var list = $('doc-claims');
    clear(list);
    claims.forEach(function (claim) {
      var numbered = /^(\d+)\s*[.)\u3001\uff0e]\s*(.*)$/.exec(claim);
      var item = el('li', null, numbered ? numbered[2] : claim);
      if (numbered) item.value = Number(numbered[1]);
      list.appendChild(item);
    });
    $('doc-claims-count').textContent = '(' + claims.length + ')';
    $('doc-claims-box').hidden = !claims.length;
  }
  function showDescription(paragraphs) {
    var box = $('doc-description');
    clear(box);
    paragraphs.forEach(function (paragraph) { box.appendChild(el('p', null, paragraph)); });
    $('doc-description-count').textContent = '(' + fmtInt(paragraphs.length) + ' paragraph' + (paragraphs.length === 1 ? '' : 's') + ')';
    $('doc-description-box').open = false;
    $('doc-description-box').hidden = !paragraphs.length;
  }
  function showDocument(id, evidence) {
    return api('/corpus/documents/' + encodeURIComponent(id)).then(function (doc) {
      $('panel-hint').hidden = true;
      $('doc').hidden = false;
      $('doc').setAttribute('data-id', doc.id);
      $('doc-id').textContent = doc.id + (doc.placed ? ' \u00b7 added since the map was built' : '');
      $('doc-title').textContent = doc.title || '(no title)';
      $('doc-date').textContent = doc.date || '\u2014';
      $('doc-assignee').textContent = doc.assignee || '\u2014';
      var topic = $('doc-topic');
      clear(topic);
      add(topic, doc.cluster == null ? 'not on the map' : [dot(doc.cluster), '#' + doc.cluster + ' ' + (doc.label || '')]);
      var codes = (doc.cpc.length ? doc.cpc : doc.ipc).slice(0, 8);
      $('doc-codes').textContent = codes.length ? codes.join(', ') : '\u2014';
      $('doc-abstract').textContent = doc.abstract || '';
      $('doc-abstract').hidden = !doc.abstract;
      var body = $('doc-text');
      clear(body);
      lines(doc.text).forEach(function (line) { body.appendChild(el('p', null, line)); });
      $('doc-text-box').hidden = !doc.text;
      showClaims(lines(doc.claims));
      showDescription(lines(doc.description));
      var marked = null;
      if (evidence && evidence.field === 'claims') marked = markPassage($('doc-claims'), doc.claims, evidence);
      if (evidence && evidence.field === 'text') marked = markPassage($('doc-text'), doc.text, evidence);
      if (evidence && evidence.field === 'description') {
        $('doc-description-box').open = true;
        marked = markPassage($('doc-description'), doc.description, evidence);
      }
      var list = $('doc-similar');
      clear(list);
      doc.neighbours.forEach(function (hit) { list.appendChild(hitItem(hit)); });
      S.selected = S.byId[doc.id] ? doc.id : null;
      $('panel').scrollTop = 0;
      if (marked) marked.scrollIntoView({ block: 'center' });
      document.body.setAttribute('data-evidence', marked ? evidence.field : '');
      document.body.setAttribute('data-selected', doc.id);
      return renderMap();
    }).catch(function (err) { showError('The document could not be shown: ' + err.message); });
  }

  // ---------- search ----------
  function runSearch(event) {
    if (event) event.preventDefault();
    var text = $('search-input').value.trim();
    if (!text) return clearSearch();
    var mode = $('search-mode').value;
    var body = S.byId[text] ? { like: text, k: 20, mode: 'vector' } : { query: text, k: 20, mode: mode };
    return api('/corpus/search', { method: 'POST', json: body }).then(function (result) {
      S.hits = result.hits.map(function (h) { return h.id; });
      var list = $('result-list');
      clear(list);
      result.hits.forEach(function (hit) { list.appendChild(hitItem(hit)); });
      $('results-count').textContent = '(' + result.hits.length + (body.like ? ' like ' + body.like : '') + ')';
      $('results').hidden = false;
      $('panel-hint').hidden = true;
      document.body.setAttribute('data-hits', String(S.hits.length));
      return renderMap();
    }).catch(function (err) { showError('Search failed: ' + err.message); });
  }
  function clearSearch() {
    $('search-input').value = '';
    S.hits = [];
    $('results').hidden = true;
    document.body.setAttribute('data-hits', '0');
    return renderMap();
  }

  // ---------- topics ----------
  function renderTopics() {
    var table = $('topic-table');
    clear(table);
    $('topic-count').textContent = '(' + S.topics.length + ')';
    var head = el('tr');
    ['#', 'Topic and keywords', 'Patents', 'Main codes', 'Growth/yr', 'Momentum', 'Years'].forEach(function (h, i) {
      head.appendChild(el('th', i === 0 || i === 2 || i >= 4 ? 'num' : null, h));
    });
    table.appendChild(el('thead', null, head));
    var body = el('tbody');
    S.topics.slice().sort(function (a, b) { return b.size - a.size || a.cluster - b.cluster; }).forEach(function (t) {
      var row = el('tr');
      row.setAttribute('data-cluster', String(t.cluster));
      if (S.activeTopic === t.cluster) row.className = 'active';
      row.appendChild(el('td', 'num', [dot(t.cluster), String(t.cluster)]));
      row.appendChild(el('td', null, [el('div', 'label', t.label), el('div', 'kw', t.keywords.slice(0, 10).join(', '))]));
      row.appendChild(el('td', 'num', fmtInt(t.size) + (t.placed ? ' +' + t.placed : '')));
      var codes = {};
      t.codes.forEach(function (c) { (codes[c.scheme] = codes[c.scheme] || []).push(c.code); });
      row.appendChild(el('td', null, Object.keys(codes).map(function (s) {
        return el('div', null, s.toUpperCase() + ' ' + codes[s].slice(0, 3).join(' \u00b7 '));
      })));
      var growth = el('td', 'num', fmtPct(t.growth));
      if (isNum(t.growth)) growth.className += t.growth > 0.05 ? ' up' : t.growth < -0.05 ? ' down' : '';
      row.appendChild(growth);
      var momentum = el('td', 'num', isNum(t.momentum) ? t.momentum.toFixed(2) : '\u2014');
      if (isNum(t.momentum)) momentum.className += t.momentum >= 1.2 ? ' up' : t.momentum <= 0.8 ? ' down' : '';
      row.appendChild(momentum);
      row.appendChild(el('td', 'num', t.first_year != null ? t.first_year + '\u2013' + (t.peak_year != null ? t.peak_year : '?') : '\u2014'));
      row.addEventListener('click', function () {
        S.activeTopic = S.activeTopic === t.cluster ? null : t.cluster;
        renderTopics();
        selectView('map');
        renderMap();
      });
      body.appendChild(row);
    });
    table.appendChild(body);
  }

  // ---------- evolution and graph ----------
  var drawn = {};
  function renderEvolution() {
    return api('/corpus/runs/latest/evolution').then(function (evo) {
      var div = $('evolution');
      if (!evo.years.length) { clear(div); div.appendChild(el('p', 'hint', 'No publication years are known for this map.')); return; }
      var sorted = evo.topics.filter(function (t) { return t.cluster >= 0; })
        .sort(function (a, b) { return sum(b.per_year) - sum(a.per_year) || a.cluster - b.cluster; });
      var top = sorted.slice(0, 12), rest = sorted.slice(12);
      function counts(t) { return evo.years.map(function (y) { return t.per_year[String(y)] || 0; }); }
      var traces = top.map(function (t) {
        return { type: 'scatter', mode: 'lines', stackgroup: 'all', name: esc(clip('#' + t.cluster + ' ' + t.label, 40)),
          x: evo.years, y: counts(t), line: { width: 0.5, color: colour(t.cluster) }, fillcolor: colour(t.cluster) };
      });
      if (rest.length) {
        var other = evo.years.map(function () { return 0; });
        rest.forEach(function (t) { counts(t).forEach(function (v, i) { other[i] += v; }); });
        traces.push({ type: 'scatter', mode: 'lines', stackgroup: 'all', name: 'other (' + rest.length + ' topics)',
          x: evo.years, y: other, line: { width: 0.5, color: '#b7bcc6' }, fillcolor: '#b7bcc6' });
      }
      return window.Plotly.react(div, traces, {
        margin: { l: 50, r: 10, t: 10, b: 40 }, hovermode: 'x unified',
        xaxis: { title: { text: 'publication year' } }, yaxis: { title: { text: 'patents' }, rangemode: 'tozero' },
        legend: { font: { size: 11 } }
      }, plotConfig);
    });
  }
  function sum(perYear) { var s = 0; Object.keys(perYear).forEach(function (k) { s += perYear[k]; }); return s; }
  function renderGraph() {
    return api('/corpus/runs/latest/graph').then(function (graph) {
      var div = $('graph');
      var nodes = graph.nodes.filter(function (n) { return isNum(n.x) && isNum(n.y); });
      var at = {};
      nodes.forEach(function (n) { at[n.id] = n; });
      var lx = [], ly = [], cx = [], cy = [];
      graph.links.forEach(function (l) {
        var a = at[l.source], b = at[l.target];
        if (!a || !b) return;
        var target = l.citations > 0 ? [cx, cy] : [lx, ly];
        target[0].push(a.x, b.x, null); target[1].push(a.y, b.y, null);
      });
      var maxSize = Math.max.apply(null, nodes.map(function (n) { return n.size; }).concat([1]));
      var traces = [
        { type: 'scatter', mode: 'lines', x: lx, y: ly, hoverinfo: 'skip', showlegend: false, line: { width: 1.2, color: 'rgba(70,84,110,0.35)' } },
        { type: 'scatter', mode: 'lines', x: cx, y: cy, hoverinfo: 'skip', showlegend: false, line: { width: 2, color: 'rgba(210,105,30,0.6)' } },
        { type: 'scatter', mode: 'markers+text', showlegend: false,
          x: nodes.map(function (n) { return n.x; }), y: nodes.map(function (n) { return n.y; }),
          text: nodes.map(function (n) { return esc(clip(n.label, 24)); }), textposition: 'top center', textfont: { size: 10 },
          hovertext: nodes.map(function (n) { return '<b>' + esc('#' + n.id + ' ' + n.label) + '</b><br>' + fmtInt(n.size) + ' patents'; }),
          hoverinfo: 'text', customdata: nodes.map(function (n) { return n.id; }),
          marker: { size: nodes.map(function (n) { return 8 + 30 * Math.sqrt(n.size / maxSize); }),
                    color: nodes.map(function (n) { return colour(n.id); }), line: { width: 1, color: '#fff' } } }
      ];
      return window.Plotly.react(div, traces, {
        margin: { l: 10, r: 10, t: 10, b: 10 }, hovermode: 'closest',
        xaxis: { showgrid: false, zeroline: false, showticklabels: false },
        yaxis: { showgrid: false, zeroline: false, showticklabels: false }
      }, plotConfig).then(function () {
        if (!div._patscapeWired) {
          div._patscapeWired = true;
          div.on('plotly_click', function (event) {
            var p = event && event.points && event.points[0];
            if (p && p.customdata != null) { S.activeTopic = Number(p.customdata); renderTopics(); selectView('map'); renderMap(); }
          });
        }
      });
    });
  }
  function selectView(name) {
    Array.prototype.forEach.call(document.querySelectorAll('.tabs button'), function (b) {
      b.setAttribute('aria-selected', b.getAttribute('data-view') === name ? 'true' : 'false');
    });
    ['map', 'evolution', 'graph'].forEach(function (v) { $('view-' + v).hidden = v !== name; });
    var draw = { evolution: renderEvolution, graph: renderGraph }[name];
    if (draw && !drawn[name]) {
      drawn[name] = true;
      draw().catch(function (err) { drawn[name] = false; showError('The ' + name + ' view could not be drawn: ' + err.message); });
    } else if (name === 'map') {
      window.Plotly.Plots.resize(mapDiv);
    }
  }

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
    api('/corpus/uploads', { method: 'POST', body: form }).then(follow).catch(function (err) {
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
      .then(function () { return api('/corpus/jobs/' + encodeURIComponent(job.id)); })
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
    return Promise.all([api('/corpus/runs/latest/topics'), api('/corpus/runs/latest/map'), api('/corpus')]).then(function (all) {
      setTopics(all[0]);
      setPoints(all[1]);
      showStats(all[2]);
      renderTopics();
      return renderMap();
    }).then(function () {
      document.body.setAttribute('data-points', String(S.points.length));
      document.body.setAttribute('data-upload', 'done');
    });
  }

  // ---------- wiring ----------
  if (typeof window.Plotly !== 'object' || window.Plotly === null) {
    showError('plotly.js did not load; the charts cannot be drawn.');
    document.body.setAttribute('data-ready', 'error');
    return;
  }
  $('search-form').addEventListener('submit', runSearch);
  $('search-clear').addEventListener('click', clearSearch);
  $('upload-form').addEventListener('submit', upload);
  $('auth').addEventListener('submit', function (event) {
    event.preventDefault();
    var key = $('api-key').value.trim();
    if (!key) { $('auth-message').textContent = 'Type the key first.'; return; }
    memoryKey = key;
    try { window.sessionStorage.setItem(KEY_STORE, key); } catch (e) { /* storage off: kept in memory */ }
    $('api-key').value = '';
    $('auth').hidden = true;
    $('auth-message').textContent = '';
    document.body.setAttribute('data-auth', 'given');
    loadAll();
  });
  Array.prototype.forEach.call(document.querySelectorAll('.tabs button'), function (b) {
    b.addEventListener('click', function () { selectView(b.getAttribute('data-view')); });
  });
  window.addEventListener('error', function (e) { showError('Script error: ' + (e && e.message ? e.message : e)); });
  loadAll();
})();
