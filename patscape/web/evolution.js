/* patscape views: evolution. Patents per publication year for the largest topics (the others summed
 * as "other"); a last year that the data covers only in part is shaded and named, since growth and
 * momentum leave it out. */
(function () {
  'use strict';
  var P = window.patscape = window.patscape || {};
  var C = P.core, isNum = C.isNum;
  var TOP = 12;

  function sum(perYear) { var s = 0; Object.keys(perYear).forEach(function (k) { if (isNum(perYear[k])) s += perYear[k]; }); return s; }
  function series(evo) {
    var years = C.arr(evo.years).filter(isNum);
    var topics = C.arr(evo.topics).filter(function (t) { return t.cluster >= 0 && Object.keys(C.obj(t.per_year)).length; });
    if (!years.length || !topics.length) return null;
    topics.sort(function (a, b) { return sum(b.per_year) - sum(a.per_year) || a.cluster - b.cluster; });
    var top = topics.slice(0, TOP), rest = topics.slice(TOP);
    function counts(t) { return years.map(function (y) { var v = t.per_year[String(y)]; return isNum(v) ? v : 0; }); }
    var out = top.map(function (t) {
      return { name: C.esc('#' + t.cluster + ' ' + C.clip(C.topicLabel(t.cluster), 38)), colour: C.topicColour(t.cluster), y: counts(t) };
    });
    if (rest.length) {
      var other = years.map(function () { return 0; });
      rest.forEach(function (t) { counts(t).forEach(function (v, j) { other[j] += v; }); });
      out.push({ name: 'other (' + rest.length + ' topics)', colour: '#b7bcc6', y: other });
    }
    return { years: years, series: out };
  }
  // "2024 is partial (data to 2024-06-30), left out of growth and momentum."
  function partialNote(evo) {
    if (!isNum(evo.partial_year)) return '';
    return evo.partial_year + ' is partial' + (evo.data_to ? ' (data to ' + C.str(evo.data_to) + ')' : '') +
      ': it is shaded in the chart and left out of growth and momentum' +
      (isNum(evo.recent_from) && isNum(evo.recent_to) ? ', which use ' + evo.recent_from + '\u2013' + evo.recent_to : '') + '.';
  }

  function render(div, evo, mode) {
    var note = C.$('evo-note');
    var text = partialNote(evo);
    if (note) { note.textContent = text; note.hidden = !text; }
    document.body.setAttribute('data-partial-year', isNum(evo.partial_year) ? String(evo.partial_year) : '');
    var s = series(evo);
    if (!s) {
      return C.emptyPlot(div, 'No publication years are known for this map.');
    }
    mode = mode || 'stack';
    var stacked = mode !== 'lines', partial = isNum(evo.partial_year) ? evo.partial_year : null;
    var traces = s.series.map(function (one, j) {
      var t = { type: 'scatter', mode: 'lines', name: one.name, x: s.years, y: one.y,
                line: { color: one.colour, width: stacked ? 0.6 : 2 }, hovertemplate: '%{y}' };
      if (stacked) { t.stackgroup = 'all'; t.fillcolor = one.colour; }
      if (mode === 'share') { t.hovertemplate = '%{y:.1f}%'; if (j === 0) t.groupnorm = 'percent'; }
      return t;
    });
    var layout = {
      font: C.FONT, margin: { l: 56, r: 16, t: 30, b: 44 }, hovermode: 'x unified',
      xaxis: { title: { text: 'publication year' }, showgrid: false, zeroline: false },
      yaxis: { title: { text: mode === 'share' ? 'share of the year\u2019s patents in topics (%)' : 'patents' },
               gridcolor: '#eef0f4', zeroline: false, rangemode: 'tozero' },
      legend: { font: { size: 11 } }, plot_bgcolor: '#ffffff', shapes: [], annotations: []
    };
    if (partial != null) {
      layout.shapes.push({ type: 'rect', xref: 'x', yref: 'paper', x0: partial - 0.5, x1: partial, y0: 0, y1: 1,
                           fillcolor: 'rgba(166,70,28,0.10)', line: { width: 1, dash: 'dot', color: 'rgba(166,70,28,0.7)' },
                           layer: 'above' });
      layout.annotations.push({ x: partial, xref: 'x', xanchor: 'right', y: 1, yref: 'paper', yanchor: 'bottom', showarrow: false,
                                text: partial + ' partial', font: { size: 11, color: '#a6461c' } });
    }
    return window.Plotly.react(C.plotReady(div), traces, layout, C.plotConfig).then(function () { return true; });
  }

  P.evolutionView = { render: render, partialNote: partialNote };
})();
