/* patscape views: emerging. A timeline of bursts (patscape emerging: Kleinberg's burst detection):
 * a row per item, strongest first, a thin grey bar over the years of the data and the burst as a
 * highlighted segment (darker: still running), its strength and counts on hover. A click on a
 * topic's row shows it on the map (a node of a level: that node). */
(function () {
  'use strict';
  var P = window.patscape = window.patscape || {};
  var C = P.core, isNum = C.isNum, str = C.str;
  var TOP = 25;

  // the label of a burst's item as a row shows it
  function rowLabel(b, by) {
    if (by === 'topic') return 'L' + b.level + ' #' + b.item + ' ' + C.clip(str(b.label), 40);
    if (by === 'code') return str(b.scheme).toUpperCase() + ' ' + str(b.item);
    if (by === 'term') return str(b.item) + (b.lang ? ' (' + str(b.lang) + ')' : '');
    return C.clip(str(b.item), 48);
  }
  function yearOf(batch) { return Number(str(batch).slice(0, 4)) + (str(batch).length > 4 ? (Number(str(batch).slice(5, 7)) - 1) / 12 : 0); }
  function width(result) { return result.batches === 'month' ? 1 / 12 : 1; }

  // result: the answer of /corpus/runs/R/emerging (or the report's copy); by: its kind
  function render(div, result, by) {
    var note = C.$('emerging-note');
    var bursts = C.arr(result && result.bursts).filter(function (b) { return b && isNum(b.strength); }).slice(0, TOP);
    document.body.setAttribute('data-bursts', String(bursts.length));
    if (note) {
      var dates = C.obj(result && result.dates), parts = Object.keys(dates).sort().map(function (k) { return dates[k] + ' by ' + k.replace(/_/g, ' '); });
      note.textContent = bursts.length ? 'The ' + bursts.length + ' strongest bursts of ' + C.arr(result.bursts).length +
        ' (' + str(result.first) + '\u2013' + str(result.last) + '; patents dated ' + parts.join(', ') + ').' : '';
    }
    if (!bursts.length) {
      return C.emptyPlot(div, result && result.bursts ? 'No bursts: no item draws a sudden, sustained share of the patents.'
        : 'No bursts were computed for this map.');
    }
    var step = width(result), first = yearOf(result.first), last = yearOf(result.last) + step;
    var rows = bursts.map(function (b) { return rowLabel(b, by); }).reverse();   // strongest at the top
    var ordered = bursts.slice().reverse();
    var span = { type: 'bar', orientation: 'h', y: rows, x: rows.map(function () { return last - first; }),
                 base: rows.map(function () { return first; }), marker: { color: '#e6e8ee' }, hoverinfo: 'skip', showlegend: false };
    var segment = {
      type: 'bar', orientation: 'h', y: rows, showlegend: false,
      x: ordered.map(function (b) { return yearOf(b.end) + step - yearOf(b.begin); }),
      base: ordered.map(function (b) { return yearOf(b.begin); }),
      marker: { color: ordered.map(function (b) { return b.running ? '#b3261e' : '#e0736a'; }) },
      customdata: ordered.map(function (b) {
        var n = 0, d = 0;
        C.arr(b.counts).forEach(function (v) { if (isNum(v)) n += v; });
        C.arr(b.totals).forEach(function (v) { if (isNum(v)) d += v; });
        return [str(b.begin), str(b.end), C.fmtNum(b.strength, 1), C.fmtInt(n), C.fmtInt(d), b.running ? ' (running)' : ''];
      }),
      hovertemplate: '%{customdata[0]}\u2013%{customdata[1]}%{customdata[5]}<br>strength %{customdata[2]}<br>' +
        '%{customdata[3]} of %{customdata[4]} patents<extra></extra>'
    };
    var layout = {
      font: C.FONT, barmode: 'overlay', bargap: 0.35, margin: { l: 300, r: 16, t: 10, b: 40 },
      height: Math.max(240, 26 * rows.length + 60), plot_bgcolor: '#ffffff', hovermode: 'closest',
      xaxis: { title: { text: result.batches === 'month' ? 'month' : 'year' }, range: [first, last], showgrid: true,
               gridcolor: '#eef0f4', zeroline: false },
      yaxis: { automargin: true, tickfont: { size: 11 } }
    };
    // the y labels are the items' names: plotly writes tick text as HTML-ish markup, so escape it
    span.y = segment.y = rows.map(C.esc);
    return window.Plotly.react(C.plotReady(div), [span, segment], layout, C.plotConfig).then(function () {
      if (div.removeAllListeners) div.removeAllListeners('plotly_click');
      div.on('plotly_click', function (ev) {
        var point = ev && ev.points && ev.points[0];
        if (!point || by !== 'topic') return;
        var b = ordered[point.pointNumber];
        if (b && P.emergingView.onTopic) P.emergingView.onTopic(b.level, b.item);
      });
      return true;
    });
  }

  P.emergingView = { render: render, onTopic: null, TOP: TOP };
})();
