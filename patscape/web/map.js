/* patscape views: the map. One dot per patent, coloured by topic (or by a level above the topics),
 * labels by zoom (labels.js).
 *
 * Points arrive column-wise (typed arrays, see core.js columnsToPoints). Up to WEBGL_POINTS
 * they are drawn as SVG, above that with WebGL (scattergl; plotly's strict build, as the CSP
 * forbids eval). Up to DRAW_BUDGET points every point is drawn once and plotly zooms by itself.
 * Above it, the map has levels of detail, recomputed after every zoom or pan: when the view holds
 * more than DRAW_BUDGET points it shows a density layer of all of them and a sample of them (the
 * points of lowest rank in one fixed random order, so a point once shown stays shown as one zooms
 * in); when it holds fewer, it shows every one of them. Clicking a point opens its patent.
 */
(function () {
  'use strict';
  var P = window.patscape = window.patscape || {};
  var C = P.core, isNum = C.isNum, esc = C.esc, clip = C.clip, str = C.str;

  var WEBGL_POINTS = 20000;   // keep in step with patscape.report.WEBGL_POINTS
  var DRAW_BUDGET = 30000;    // most points drawn at once
  var DENSITY_CELLS = 180;    // cells of the density layer along its longer side
  var CONTOUR_CELLS = 90;     // cells of the crowding contours along the map's longer side

  var M = {
    div: null, pts: null, order: null, extent: null, view: null,
    hover: [], colour: 'topic', colourLevel: null, labels: true, labelMode: 'auto', overlays: {}, onClick: null, langOrder: [], drawn: 0, mode: 'all',
    inView: 0, renders: 0, busy: false, again: false, gl: false, webglNote: false, contours: false, grid: null, idea: null
  };

  // ---------- points ----------
  function random(seed) {   // mulberry32: the same order on every load
    return function () {
      seed |= 0; seed = seed + 0x6D2B79F5 | 0;
      var t = Math.imul(seed ^ seed >>> 15, 1 | seed);
      t = t + Math.imul(t ^ t >>> 7, 61 | t) ^ t;
      return ((t ^ t >>> 14) >>> 0) / 4294967296;
    };
  }
  function setPoints(pts) {
    var n = pts.count, rnd = random(20241125);
    var order = new Int32Array(n), i;
    for (i = 0; i < n; i++) order[i] = i;
    for (i = n - 1; i > 0; i--) { var j = Math.floor(rnd() * (i + 1)), t = order[i]; order[i] = order[j]; order[j] = t; }
    var x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (i = 0; i < n; i++) {
      var x = pts.x[i], y = pts.y[i];
      if (!isFinite(x) || !isFinite(y)) continue;
      if (x < x0) x0 = x; if (x > x1) x1 = x; if (y < y0) y0 = y; if (y > y1) y1 = y;
    }
    P.mapLabels.setPoints(pts, order);
    var padX = (x1 - x0) * 0.03 || 1, padY = (y1 - y0) * 0.03 || 1;
    M.pts = pts; M.order = order; M.hover = new Array(n); M.grid = null;
    M.extent = x0 <= x1 ? { x: [x0 - padX, x1 + padX], y: [y0 - padY, y1 + padY] } : null;
    M.view = null;
    M.lod = n > DRAW_BUDGET;
    M.gl = n > WEBGL_POINTS && C.webglWorks();
    var langs = {};
    if (pts.lang) for (i = 0; i < n; i++) { var l = str(pts.lang[i]) || '?'; langs[l] = (langs[l] || 0) + 1; }
    M.langOrder = Object.keys(langs).sort(function (a, b) { return langs[b] - langs[a]; });
    if (n > WEBGL_POINTS && !M.gl) {
      M.webglNote = 'WebGL is not available in this browser, so the map is drawn without it; with this many patents it is slow.';
    }
  }
  function byId(id) {
    if (!M.index) { M.index = new Map(); M.pts.id.forEach(function (d, i) { M.index.set(d, i); }); }
    return M.index.has(id) ? M.index.get(id) : -1;
  }

  // ---------- level of detail ----------
  // The indices to draw for the current view, and a density grid when they are a sample.
  function select() {
    var pts = M.pts, n = pts.count, X = pts.x, Y = pts.y, i;
    if (!M.lod) {
      var all = [];
      for (i = 0; i < n; i++) if (isFinite(X[i]) && isFinite(Y[i])) all.push(i);
      return { mode: 'all', idx: all, inView: all.length };
    }
    var v = M.view || M.extent;
    var xa = v.x[0], xb = v.x[1], ya = v.y[0], yb = v.y[1];
    // a margin of half a view on each side, so that a short pan shows points before the redraw
    var mx = (xb - xa) / 2, my = (yb - ya) / 2;
    var inView = 0, near = [];
    for (i = 0; i < n; i++) {
      var x = X[i], y = Y[i];
      if (x >= xa - mx && x <= xb + mx && y >= ya - my && y <= yb + my) {
        near.push(i);
        if (x >= xa && x <= xb && y >= ya && y <= yb) inView++;
      }
    }
    if (near.length <= DRAW_BUDGET) return { mode: 'all', idx: near, inView: inView };
    if (inView <= DRAW_BUDGET) {   // every point of the view, without the margin
      var exact = near.filter(function (j) { var x = X[j], y = Y[j]; return x >= xa && x <= xb && y >= ya && y <= yb; });
      return { mode: 'all', idx: exact, inView: inView };
    }
    // too many: the points of lowest rank (a uniform sample, stable under zoom) and the density of all
    var sample = [], order = M.order, lx = xa - mx, hx = xb + mx, ly = ya - my, hy = yb + my;
    for (var o = 0; o < n && sample.length < DRAW_BUDGET; o++) {
      i = order[o];
      if (X[i] >= lx && X[i] <= hx && Y[i] >= ly && Y[i] <= hy) sample.push(i);
    }
    var w = xb - xa, h = yb - ya;
    var gx = w >= h ? DENSITY_CELLS : Math.max(20, Math.round(DENSITY_CELLS * w / h));
    var gy = h >= w ? DENSITY_CELLS : Math.max(20, Math.round(DENSITY_CELLS * h / w));
    var counts = new Float64Array(gx * gy);
    for (var k = 0; k < near.length; k++) {
      i = near[k];
      var cx = Math.floor((X[i] - xa) / w * gx), cy = Math.floor((Y[i] - ya) / h * gy);
      if (cx >= 0 && cx < gx && cy >= 0 && cy < gy) counts[cy * gx + cx] += 1;
    }
    var z = [], top = 0;
    for (var r = 0; r < gy; r++) {
      var row = new Array(gx);
      for (var q = 0; q < gx; q++) {
        var cnt = counts[r * gx + q];
        row[q] = cnt ? Math.sqrt(cnt) : null;   // empty cells stay transparent
        if (cnt && row[q] > top) top = row[q];
      }
      z.push(row);
    }
    return { mode: 'sample', idx: sample, inView: inView,
             density: { z: z, x0: xa + w / gx / 2, dx: w / gx, y0: ya + h / gy / 2, dy: h / gy, top: top } };
  }

  // ---------- where patents crowd: contours over the whole map ----------
  // Patents per cell of a grid over the map's extent, smoothed by a Gaussian of about two cells
  // (separable, three passes of a box blur), computed once per set of points: the white space is
  // where the lines are not.
  function crowdGrid() {
    if (M.grid) return M.grid;
    var e = M.extent, w = e.x[1] - e.x[0], h = e.y[1] - e.y[0];
    var gx = w >= h ? CONTOUR_CELLS : Math.max(20, Math.round(CONTOUR_CELLS * w / h));
    var gy = h >= w ? CONTOUR_CELLS : Math.max(20, Math.round(CONTOUR_CELLS * h / w));
    var g = new Float64Array(gx * gy), X = M.pts.x, Y = M.pts.y, i, r, q;
    for (i = 0; i < M.pts.count; i++) {
      var cx = Math.floor((X[i] - e.x[0]) / w * gx), cy = Math.floor((Y[i] - e.y[0]) / h * gy);
      if (cx >= 0 && cx < gx && cy >= 0 && cy < gy) g[cy * gx + cx] += 1;
    }
    function blur(src, n, m, along) {   // a box of 3 cells, along rows (1) or columns (0)
      var out = new Float64Array(src.length);
      for (var a = 0; a < m; a++) for (var b = 0; b < n; b++) {
        var sum = 0, cnt = 0;
        for (var d = -1; d <= 1; d++) {
          var bb = b + d;
          if (bb < 0 || bb >= n) continue;
          sum += along ? src[a * n + bb] : src[bb * m + a];
          cnt++;
        }
        if (along) out[a * n + b] = sum / cnt; else out[b * m + a] = sum / cnt;
      }
      return out;
    }
    for (var pass = 0; pass < 3; pass++) { g = blur(g, gx, gy, 1); g = blur(g, gy, gx, 0); }
    var z = [], top = 0;
    for (r = 0; r < gy; r++) {
      var row = new Array(gx);
      for (q = 0; q < gx; q++) { row[q] = g[r * gx + q]; if (row[q] > top) top = row[q]; }
      z.push(row);
    }
    M.grid = { z: z, x0: e.x[0] + w / gx / 2, dx: w / gx, y0: e.y[0] + h / gy / 2, dy: h / gy, top: top };
    return M.grid;
  }
  function contourTrace() {
    var d = crowdGrid();
    return { type: 'contour', meta: 'crowding', name: 'where patents crowd', z: d.z, x0: d.x0, dx: d.dx, y0: d.y0, dy: d.dy,
             showscale: false, hoverinfo: 'skip', showlegend: false,
             contours: { coloring: 'lines', start: d.top * 0.08, end: d.top * 0.92, size: d.top * 0.12 },
             line: { width: 1, smoothing: 1 }, colorscale: [[0, '#b9c3d6'], [1, '#3a4f7a']] };
  }

  // ---------- traces ----------
  function hoverText(i) {
    if (M.hover[i] !== undefined) return M.hover[i];
    var pts = M.pts, c = pts.cluster[i];
    var meta = esc(pts.id[i]) + (pts.date && pts.date[i] ? ' \u00b7 ' + esc(pts.date[i]) : '') +
      (pts.lang && pts.lang[i] ? ' \u00b7 ' + esc(pts.lang[i]) : '');
    var topic = c < 0 ? 'outlier (no topic)' : '#' + c + ' ' + esc(clip(C.topicLabel(c), 70));
    var H = P.hierarchy, path = c >= 0 && H.has() ? H.path(c) : null;
    if (path) topic = path.map(function (id, lv) { return esc(clip(H.label(lv, id), 40)); }).join(' \u203a ') + '<br>' + topic;
    var text = '<b>' + C.wrapEsc(pts.title ? pts.title[i] || '(no title)' : '(no title)', 70, 220) + '</b><br>' + meta + '<br>' + topic +
      (pts.placed && pts.placed[i] ? '<br><i>added since the map was built</i>' : '');
    M.hover[i] = text;
    return text;
  }
  function langColour(i) {
    var k = M.langOrder.indexOf(str(M.pts.lang[i]) || '?');
    return k < 0 ? C.GREY : C.LANG_COLOURS[Math.min(k, C.LANG_COLOURS.length - 1)];
  }
  function colourOf(i) {
    if (M.colour === 'lang' && M.pts.lang) return langColour(i);
    return C.topicColour(M.colourLevel == null ? M.pts.cluster[i] : P.hierarchy.ancestor(M.pts.cluster[i], M.colourLevel));
  }
  function traceOf(idx, type, extra) {
    var pts = M.pts, x = new Array(idx.length), y = new Array(idx.length), ids = new Array(idx.length), hover = new Array(idx.length);
    for (var k = 0; k < idx.length; k++) { var i = idx[k]; x[k] = pts.x[i]; y[k] = pts.y[i]; ids[k] = pts.id[i]; hover[k] = hoverText(i); }
    return Object.assign({ type: type, mode: 'markers', x: x, y: y, customdata: ids, hovertext: hover, hoverinfo: 'text' }, extra);
  }
  function overlayTrace(name, ids, marker) {
    var idx = ids.map(byId).filter(function (i) { return i >= 0 && isFinite(M.pts.x[i]); });
    return traceOf(idx, 'scatter', { meta: 'overlay:' + name, name: name, showlegend: false, marker: marker });
  }
  function markerSize(drawn) { return drawn > 20000 ? 3.5 : drawn > 8000 ? 4.5 : drawn > 2000 ? 5.5 : 7; }
  // ---------- labels (labels.js) ----------
  function sorted2(r) { return r[0] <= r[1] ? [r[0], r[1]] : [r[1], r[0]]; }
  function plotArea() {   // the plotted area in pixels, the data ranges it shows, the legend's box in it
    var fl = M.div && M.div._fullLayout;
    if (fl && fl._size && fl.xaxis && fl.xaxis.range && fl.yaxis && fl.yaxis.range) {
      var legend = M.div.querySelector('.legend'), keep = [];
      if (legend) {
        var lb = legend.getBoundingClientRect(), db = M.div.getBoundingClientRect();
        var ox = db.left + fl._size.l, oy = db.top + fl._size.t;
        keep.push({ l: lb.left - ox, r: lb.right - ox, t: lb.top - oy, b: lb.bottom - oy });
      }
      var x = sorted2(fl.xaxis.range), y = sorted2(fl.yaxis.range), e = M.extent;
      var zoom = e ? Math.min((e.x[1] - e.x[0]) / ((x[1] - x[0]) || 1), (e.y[1] - e.y[0]) / ((y[1] - y[0]) || 1)) : 1;
      return { w: fl._size.w, h: fl._size.h, x: x, y: y, keep: keep, zoom: zoom };
    }
    var v = M.view || M.extent;
    if (!v) return null;
    var w = (M.div && M.div.clientWidth) || 800, h = (M.div && M.div.clientHeight) || 600;
    return { w: Math.max(w - 16, 100), h: Math.max(h - 16, 100), x: v.x, y: v.y, keep: [], zoom: v === M.extent ? 1 : 2 };
  }
  function annotations() {
    if (!M.labels) return [];
    return P.mapLabels.annotations(plotArea(), { mode: M.labelMode, colourLevel: M.colour === 'lang' ? -1 : M.colourLevel });
  }
  function relabel() {   // the labels again for the view now drawn (plotly zooms small maps by itself)
    return M.div && M.pts ? window.Plotly.relayout(M.div, { annotations: annotations() }) : null;
  }
  function traces(sel) {
    var pts = M.pts, type = M.gl ? 'scattergl' : 'scatter', size = markerSize(sel.idx.length);
    var out = [], inTopic = [], outliers = [], placed = [], highlighted = [], active = P.hierarchy.activeClusters(), k, i;
    for (k = 0; k < sel.idx.length; k++) {
      i = sel.idx[k];
      if (pts.placed && pts.placed[i]) placed.push(i);
      else if (pts.cluster[i] < 0) outliers.push(i);
      else inTopic.push(i);
      if (active && active.has(pts.cluster[i])) highlighted.push(i);
    }
    var dim = !!active;
    if (M.contours) out.push(contourTrace());
    if (sel.density) {
      var d = sel.density;
      out.push({ type: 'heatmap', meta: 'density', name: 'density', z: d.z, x0: d.x0, dx: d.dx, y0: d.y0, dy: d.dy,
                 zmin: 0, zmax: d.top || 1, showscale: false, hoverinfo: 'skip', zsmooth: 'best',
                 colorscale: [[0, 'rgba(90,110,150,0)'], [0.12, 'rgba(90,110,150,0.10)'], [0.4, 'rgba(70,95,145,0.28)'],
                              [1, 'rgba(40,60,110,0.55)']] });
    }
    out.push(traceOf(outliers, type, { meta: 'points', name: 'outliers (' + C.fmtInt(countOf(-1)) + ')',
      marker: { size: size * 0.75, color: M.colour === 'lang' && pts.lang ? outliers.map(langColour) : C.GREY, opacity: dim ? 0.2 : 0.6 } }));
    out.push(traceOf(inTopic, type, { meta: 'points', name: 'in a topic (' + C.fmtInt(countOf(0)) + ')',
      marker: { size: size, color: inTopic.map(colourOf), opacity: dim ? 0.15 : 0.8 } }));
    if (pts.placed && M.placedCount) {
      out.push(traceOf(placed, type, { meta: 'points', name: 'added since the map',
        marker: { size: size + 4, symbol: 'diamond', color: placed.map(colourOf), opacity: dim ? 0.3 : 0.95, line: { width: 1.2, color: '#111' } } }));
    }
    out.push(traceOf(highlighted, type, { meta: 'overlay:highlighted', name: 'highlighted', showlegend: false,
      marker: { size: size * 1.5, color: highlighted.map(colourOf), opacity: 1, line: { width: 0.6, color: '#ffffff' } } }));
    var o = M.overlays;
    if (o.hits && o.hits.length) out.push(overlayTrace('search hits', o.hits, { size: 15, color: 'rgba(0,0,0,0)', line: { width: 2.5, color: '#d62728' } }));
    if (o.owner && o.owner.length) out.push(overlayTrace('portfolio', o.owner, { size: 9, color: 'rgba(0,0,0,0)', line: { width: 1.8, color: '#e8590c' } }));
    if (o.added && o.added.length) out.push(overlayTrace('added', o.added, { size: 18, color: 'rgba(0,0,0,0)', symbol: 'diamond-open', line: { width: 2.5, color: '#111' } }));
    if (M.idea) {   // a text dropped on the map (patscape locate)
      out.push({ type: 'scatter', mode: 'markers', meta: 'overlay:idea', name: 'your text', showlegend: false,
                 x: [M.idea.x], y: [M.idea.y], hovertext: [esc(M.idea.label)], hoverinfo: 'text',
                 marker: { size: 24, symbol: 'star', color: '#ffffff', line: { width: 3, color: '#c2185b' } } });
    }
    if (P.state.selected != null) out.push(overlayTrace('selected', [P.state.selected], { size: 18, symbol: 'star', color: '#ffd400', line: { width: 1.5, color: '#111' } }));
    return out;
  }
  function countOf(kind) {   // -1: outliers, 0: points in a topic (not counting placed ones)
    var pts = M.pts, n = 0;
    if (M.counts) return kind < 0 ? M.counts[0] : M.counts[1];
    for (var i = 0; i < pts.count; i++) if (!(pts.placed && pts.placed[i]) && pts.cluster[i] < 0) n++;
    var placed = 0;
    if (pts.placed) for (i = 0; i < pts.count; i++) placed += pts.placed[i];
    M.counts = [n, pts.count - n - placed];
    return countOf(kind);
  }

  // ---------- drawing ----------
  function render() {
    var div = M.div, pts = M.pts;
    if (!pts || !pts.count || !M.extent) {
      C.clear(div);
      div.appendChild(C.el('p', 'empty', 'This run has no map positions.'));
      return Promise.resolve();
    }
    if (M.busy) { M.again = true; return M.busy; }
    var t0 = performance.now();
    var sel = select();
    M.mode = sel.mode; M.drawn = sel.idx.length; M.inView = sel.inView;
    M.lastSelectMs = performance.now() - t0;
    var layout = {
      font: C.FONT, margin: { l: 8, r: 8, t: 8, b: 8 }, hovermode: 'closest', dragmode: 'zoom',
      plot_bgcolor: '#fbfcfd', paper_bgcolor: '#ffffff',
      xaxis: { showgrid: false, zeroline: false, showticklabels: false, ticks: '' },
      yaxis: { showgrid: false, zeroline: false, showticklabels: false, ticks: '' },
      legend: { orientation: 'h', x: 0, y: 1, xanchor: 'left', yanchor: 'top', bgcolor: 'rgba(255,255,255,0.85)',
                itemsizing: 'constant', itemclick: false, itemdoubleclick: false },
      hoverlabel: { align: 'left', bgcolor: '#ffffff', bordercolor: '#8892a3', font: { size: 12, color: '#1d2330' } },
      annotations: annotations()
    };
    if (M.lod) {   // explicit ranges: autorange over a sample would move the map
      var v = M.view || M.extent;
      layout.xaxis.range = v.x.slice(); layout.yaxis.range = v.y.slice();
      layout.xaxis.autorange = false; layout.yaxis.autorange = false;
    } else {
      layout.uirevision = 'map';
    }
    t0 = performance.now();
    var data = traces(sel);
    M.lastTracesMs = performance.now() - t0;
    t0 = performance.now();
    M.busy = window.Plotly.react(div, data, layout, C.plotConfig).then(function () {
      M.renders++;
      M.lastRenderMs = performance.now() - t0;
      wire();
      note();
      var body = document.body;
      body.setAttribute('data-map-mode', M.mode);
      body.setAttribute('data-map-drawn', String(M.drawn));
      body.setAttribute('data-map-renders', String(M.renders));
      M.busy = false;
      if (M.again) { M.again = false; return render(); }
      if (M.labels) return relabel();
    }, function (err) { M.busy = false; throw err; });
    return M.busy;
  }
  function note() {
    var box = C.$('map-lod');
    if (!box) return;
    var total = M.pts.count;
    var text = M.webglNote ? M.webglNote + ' ' : '';
    if (M.mode === 'sample') {
      text += 'Showing ' + C.fmtInt(M.drawn) + ' of the ' + C.fmtInt(M.inView) + ' patents in view, a random sample; ' +
        'the shading shows where all of them lie. Zoom in to see every patent.';
    } else if (M.lod) {
      text += 'Every patent in view is shown (' + C.fmtInt(M.inView) + ' of ' + C.fmtInt(total) + ').';
    }
    box.textContent = text;
    box.hidden = !text;
  }
  var relayoutTimer = null;
  function onRelayout(event) {
    if (!event) return;
    var keys = Object.keys(event);
    if (!keys.some(function (k) { return /^[xy]axis\./.test(k); })) return;
    if (!M.lod) {   // every point is drawn already: only the labels change with the view
      clearTimeout(relayoutTimer);
      if (M.labels) relayoutTimer = setTimeout(relabel, 30);
      return;
    }
    if (event['xaxis.autorange'] || event['yaxis.autorange']) M.view = null;
    else {
      var fl = M.div._fullLayout;
      M.view = { x: sorted2(fl.xaxis.range), y: sorted2(fl.yaxis.range) };
    }
    clearTimeout(relayoutTimer);
    relayoutTimer = setTimeout(function () { C.step('The map', render); }, 30);
  }
  function wire() {
    var div = M.div;
    if (div._patscapeWired) return;
    div._patscapeWired = true;
    div.on('plotly_click', function (event) {
      var point = event && event.points && event.points[0];
      if (point && point.customdata != null && M.onClick) M.onClick(String(point.customdata));
    });
    div.on('plotly_relayout', onRelayout);
  }

  P.mapView = {
    WEBGL_POINTS: WEBGL_POINTS,
    DRAW_BUDGET: DRAW_BUDGET,
    init: function (div, onClick) { M.div = div; M.onClick = onClick; },
    setPoints: function (pts) { M.counts = null; M.index = null; M.placedCount = pts.placedCount || 0; setPoints(pts); },
    points: function () { return M.pts; },
    setTitles: function (titles) { M.pts.title = titles; M.hover = new Array(M.pts.count); },
    // the labels of topics or nodes changed (a rename): hover texts and labels are made again
    relabelled: function () { if (M.pts) M.hover = new Array(M.pts.count); return render(); },
    has: function (id) { return !!M.pts && byId(id) >= 0; },
    render: render,
    highlight: function (cluster) { P.state.activeTopic = cluster; return render(); },
    // mode: 'topic' or 'lang'; level: colour by the nodes of that level above the topics (null: by topic)
    colourBy: function (mode, level, quiet) {
      M.colour = mode; M.colourLevel = level == null || !P.hierarchy.has() || level >= P.hierarchy.top() ? null : level;
      return quiet ? null : render();
    },
    colouring: function () { return M.colour === 'lang' ? 'lang' : M.colourLevel == null ? 'topic' : 'level:' + M.colourLevel; },
    showLabels: function (on) { M.labels = on; return relabel(); },
    // 'auto' (by zoom), 'off', or a level's index (the topics': P.hierarchy.top())
    labelLevel: function (mode) { M.labelMode = mode; M.labels = mode !== 'off'; return relabel(); },
    labelsShown: function () { return M.labels ? M.labelMode : 'off'; },
    setOverlay: function (name, ids) { M.overlays[name] = ids.slice(); },
    // contours of where the patents crowd (the white space is where they are not)
    showContours: function (on) { M.contours = !!on; return render(); },
    // a text placed on the map (patscape locate): {x, y, label}, or null
    setIdea: function (idea) { M.idea = idea && isFinite(idea.x) && isFinite(idea.y) ? idea : null; },
    langOrder: function () { return M.langOrder; },
    stats: function () { return { mode: M.mode, drawn: M.drawn, inView: M.inView, total: M.pts ? M.pts.count : 0, lod: M.lod,
                                  gl: M.gl, renders: M.renders, selectMs: M.lastSelectMs, tracesMs: M.lastTracesMs,
                                  plotlyMs: M.lastRenderMs }; }
  };
})();
