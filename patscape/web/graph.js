/* patscape views: the topic graph. Topics at their place on the map (circle size: patents), joined
 * when their texts are similar (thicker: more similar); orange links mean citations between them. */
(function () {
  'use strict';
  var P = window.patscape = window.patscape || {};
  var C = P.core, isNum = C.isNum, esc = C.esc, clip = C.clip;
  var G = { onSelect: null };

  function render(div, graph) {
    var nodes = C.arr(graph.nodes), links = C.arr(graph.links).filter(function (l) { return l.source !== l.target; });
    if (!nodes.length) {
      return C.emptyPlot(div, 'This run has no topics.');
    }
    var pos = {};
    var placed = nodes.filter(function (n) { return isNum(n.x) && isNum(n.y); });
    if (placed.length === nodes.length) nodes.forEach(function (n) { pos[n.id] = [n.x, n.y]; });
    else nodes.forEach(function (n, j) { var a = 2 * Math.PI * j / nodes.length; pos[n.id] = [Math.cos(a), Math.sin(a)]; });  // no map: a circle
    links = links.filter(function (l) { return pos[l.source] && pos[l.target]; })
      .sort(function (a, b) { return (b.similarity || 0) - (a.similarity || 0); }).slice(0, 400);
    var sims = links.map(function (l) { return isNum(l.similarity) ? l.similarity : 0; });
    var lo = Math.min.apply(null, sims.concat([0])), hi = Math.max.apply(null, sims.concat([0]));
    var groups = {}, mid = { x: [], y: [], text: [] };
    links.forEach(function (l, j) {
      var level = hi > lo ? Math.min(2, Math.floor(3 * (sims[j] - lo) / (hi - lo))) : 1;
      var cites = isNum(l.citations) && l.citations > 0;
      var key = level + (cites ? 'c' : 's');
      var g = groups[key] || (groups[key] = { level: level, cites: cites, x: [], y: [] });
      var a = pos[l.source], b = pos[l.target];
      g.x.push(a[0], b[0], null); g.y.push(a[1], b[1], null);
      mid.x.push((a[0] + b[0]) / 2); mid.y.push((a[1] + b[1]) / 2);
      mid.text.push(esc('#' + l.source + ' ' + clip(C.topicLabel(l.source), 40)) + '<br>\u2194 ' +
                    esc('#' + l.target + ' ' + clip(C.topicLabel(l.target), 40)) + '<br>similarity ' + C.fmtNum(l.similarity, 2) +
                    (isNum(l.citations) ? ' \u00b7 citations ' + C.fmtInt(l.citations) : ''));
    });
    var traces = Object.keys(groups).sort().map(function (k) {
      var g = groups[k];
      return { type: 'scatter', mode: 'lines', x: g.x, y: g.y, hoverinfo: 'skip', showlegend: false,
               line: { width: [1, 2.4, 4.2][g.level], color: g.cites ? 'rgba(210,105,30,0.55)' : 'rgba(70,84,110,0.35)' } };
    });
    traces.push({ type: 'scatter', mode: 'markers', x: mid.x, y: mid.y, hovertext: mid.text, hoverinfo: 'text', showlegend: false,
                  marker: { size: 9, color: 'rgba(0,0,0,0)' } });
    var maxSize = Math.max.apply(null, nodes.map(function (n) { return n.size || 0; }).concat([1]));
    var topic = P.state.topicById;
    traces.push({
      type: 'scatter', mode: 'markers+text', showlegend: false,
      x: nodes.map(function (n) { return pos[n.id][0]; }), y: nodes.map(function (n) { return pos[n.id][1]; }),
      text: nodes.map(function (n) { return esc(clip(C.topicLabel(n.id), 24)); }), textposition: 'top center',
      textfont: { size: 10, color: '#3a4252' }, customdata: nodes.map(function (n) { return n.id; }),
      hovertext: nodes.map(function (n) {
        var kw = C.arr((topic[n.id] || {}).keywords).slice(0, 6).join(', ');
        return '<b>' + esc('#' + n.id + ' ' + clip(C.topicLabel(n.id), 70)) + '</b><br>' + C.fmtInt(n.size) + ' patents' +
          (kw ? '<br>' + C.wrapEsc(kw, 70, 300) : '');
      }),
      hoverinfo: 'text',
      marker: { size: nodes.map(function (n) { return 8 + 34 * Math.sqrt((n.size || 0) / maxSize); }),
                color: nodes.map(function (n) { return C.topicColour(n.id); }), opacity: 0.9, line: { width: 1, color: '#ffffff' } }
    });
    var layout = {
      font: C.FONT, margin: { l: 8, r: 8, t: 8, b: 8 }, hovermode: 'closest',
      xaxis: { showgrid: false, zeroline: false, showticklabels: false },
      yaxis: { showgrid: false, zeroline: false, showticklabels: false },
      plot_bgcolor: '#fbfcfd', hoverlabel: { align: 'left', bgcolor: '#ffffff', font: { size: 12, color: '#1d2330' } }
    };
    return window.Plotly.react(C.plotReady(div), traces, layout, C.plotConfig).then(function () {
      if (!div._patscapeWired) {
        div._patscapeWired = true;
        div.on('plotly_click', function (event) {
          var p = event && event.points && event.points[0];
          if (p && p.customdata != null && G.onSelect) G.onSelect(Number(p.customdata));
        });
      }
      return true;
    });
  }

  P.graphView = { render: render, onSelect: function (fn) { G.onSelect = fn; } };
})();
