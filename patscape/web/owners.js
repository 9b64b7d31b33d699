/* patscape views: owners. Who holds what (the answer of /corpus/runs/R/owners, or the report's
 * copy): a table of organisations (assignee names normalised, the store's aliases applied), with
 * their patents, families, share, growth and main topics; a click on a name shows its portfolio
 * on the map (onShow), the boxes of two or more put them side by side topic by topic, and a
 * matrix draws the largest owners against the largest topics. Names are data: text only. */
(function () {
  'use strict';
  var P = window.patscape = window.patscape || {};
  var C = P.core, el = C.el, str = C.str, arr = C.arr, isNum = C.isNum;
  var MATRIX_OWNERS = 15, MATRIX_TOPICS = 20, COMPARE_MAX = 4;

  function growth(v) { return isNum(v) ? (v > 0 ? '+' : '') + Math.round(v * 100) + '%' : '\u2014'; }
  function topicText(t) { return '#' + t.node + ' ' + C.clip(str(t.label), 36) + ' (' + C.fmtInt(t.patents) + ')'; }

  // box: the table's container; view: the owners; compareBox: where owners are put side by side
  function render(box, view, compareBox) {
    C.clear(box);
    var owners = arr(view && view.owners), chosen = {};
    document.body.setAttribute('data-owners', String(owners.length));
    var note = C.$('owners-note');
    if (note) {
      note.textContent = view ? C.fmtInt(view.documents) + ' patents (' + C.fmtInt(view.families) + ' families), ' +
        C.fmtInt(view.with_owner) + ' with an owner; ' + C.fmtInt(view.names) + ' owner names, ' + C.fmtInt(view.organisations) +
        ' organisations' + (view.aliases ? ' (' + C.fmtInt(view.aliases) + ' aliases)' : '') + '; ranked by ' + str(view.counted) +
        (view.recent_years ? '; growth: ' + view.recent_years[0] + '\u2013' + view.recent_years[1] : '') : '';
    }
    if (!owners.length) {
      box.appendChild(el('p', 'empty', 'No owners: the patents of this map have no assignee.'));
      return;
    }
    var table = el('table', 'owner-table'), head = el('tr');
    ['', 'Organisation', 'Patents', 'Families', 'Share', 'Growth', 'Main topics'].forEach(function (h, j) {
      head.appendChild(el('th', j >= 2 && j <= 5 ? 'num' : null, h));
    });
    table.appendChild(el('thead', null, head));
    var body = el('tbody');
    owners.forEach(function (o, i) {
      var tick = el('input', { type: 'checkbox', 'aria-label': 'compare ' + str(o.name), 'data-key': str(o.key) });
      tick.addEventListener('change', function () {
        if (tick.checked) chosen[o.key] = o; else delete chosen[o.key];
        var keys = Object.keys(chosen);
        if (keys.length > COMPARE_MAX) { tick.checked = false; delete chosen[o.key]; return; }
        if (compareBox) compare(compareBox, view, owners.filter(function (x) { return chosen[x.key]; }));
      });
      var name = el('button', { type: 'button', class: 'owner-name', 'data-key': str(o.key), title: 'show its patents on the map' }, str(o.name));
      name.addEventListener('click', function () { if (P.ownersView.onShow) P.ownersView.onShow(o); });
      var variants = arr(o.variants);
      var writings = variants.length > 1 ? el('span', { class: 'muted variants', title: variants.map(function (v) {
        return str(v.name) + ' (' + C.fmtInt(v.patents) + ')'; }).join('\n') }, ' ' + variants.length + ' writings') : null;
      var row = el('tr', { 'data-key': str(o.key) }, [
        el('td', null, tick), el('td', null, [el('span', 'rank', String(i + 1) + '. '), name, writings]),
        el('td', 'num', C.fmtInt(o.patents)), el('td', 'num', C.fmtInt(o.families)), el('td', 'num', C.fmtPct(o.share)),
        el('td', 'num', growth(o.growth)),
        el('td', 'topics-cell', arr(o.topics).slice(0, 3).map(topicText).join(' \u00b7 '))
      ]);
      body.appendChild(row);
    });
    table.appendChild(body);
    box.appendChild(el('div', 'table-wrap', table));
    if (compareBox) compare(compareBox, view, []);
  }

  // two or more owners side by side: their patents in each topic either holds
  function compare(box, view, chosen) {
    C.clear(box);
    document.body.setAttribute('data-compared', String(chosen.length));
    if (chosen.length < 2) {
      box.appendChild(el('p', 'muted', 'Tick two to four organisations to put them side by side.'));
      return;
    }
    var topics = {}, order = [];
    chosen.forEach(function (o) {
      arr(o.topics).forEach(function (t) {
        if (!topics[t.node]) { topics[t.node] = { node: t.node, label: t.label, total: 0 }; order.push(t.node); }
        topics[t.node].total += t.patents;
      });
    });
    order.sort(function (a, b) { return topics[b].total - topics[a].total || a - b; });
    var table = el('table', 'owner-compare'), head = el('tr', null, el('th', null, 'Topic'));
    chosen.forEach(function (o) { head.appendChild(el('th', 'num', str(o.name))); });
    table.appendChild(el('thead', null, head));
    var body = el('tbody');
    var totals = el('tr', 'totals', el('td', null, 'All patents'));
    chosen.forEach(function (o) { totals.appendChild(el('td', 'num', C.fmtInt(o.patents) + ' \u00b7 ' + growth(o.growth))); });
    body.appendChild(totals);
    order.forEach(function (node) {
      var row = el('tr', { 'data-node': String(node) }, el('td', null, '#' + node + ' ' + C.clip(str(topics[node].label), 50)));
      chosen.forEach(function (o) {
        var hit = arr(o.topics).filter(function (t) { return t.node === node; })[0];
        row.appendChild(el('td', 'num', hit ? C.fmtInt(hit.patents) : '\u2014'));
      });
      body.appendChild(row);
    });
    table.appendChild(body);
    box.appendChild(el('div', 'table-wrap', table));
  }

  // the owner x topic matrix: the largest owners against the topics they hold most
  function matrix(div, view) {
    var owners = arr(view && view.owners).slice(0, MATRIX_OWNERS);
    var totals = {}, labels = {};
    owners.forEach(function (o) { arr(o.topics).forEach(function (t) { totals[t.node] = (totals[t.node] || 0) + t.patents; labels[t.node] = t.label; }); });
    var nodes = Object.keys(totals).map(Number).sort(function (a, b) { return totals[b] - totals[a] || a - b; }).slice(0, MATRIX_TOPICS);
    if (!owners.length || !nodes.length) return C.emptyPlot(div, 'No owners to draw.');
    var z = owners.map(function (o) {
      return nodes.map(function (n) { var t = arr(o.topics).filter(function (x) { return x.node === n; })[0]; return t ? t.patents : 0; });
    });
    var data = [{
      type: 'heatmap', z: z, x: nodes.map(function (n) { return C.esc('#' + n + ' ' + C.clip(str(labels[n]), 24)); }),
      y: owners.map(function (o) { return C.esc(C.clip(str(o.name), 40)); }),
      colorscale: [[0, '#f4f6f9'], [0.0001, '#dbe6f5'], [1, '#2c5fa8']], hoverongaps: false,
      hovertemplate: '%{y}<br>%{x}<br>%{z} patents<extra></extra>'
    }];
    var layout = { font: C.FONT, height: Math.max(260, 26 * owners.length + 140), margin: { l: 260, r: 10, t: 10, b: 130 },
                   xaxis: { tickangle: -40, automargin: true }, yaxis: { autorange: 'reversed', automargin: true } };
    return window.Plotly.react(C.plotReady(div), data, layout, C.plotConfig).then(function () { return true; });
  }

  P.ownersView = { render: render, compare: compare, matrix: matrix, onShow: null };
})();
