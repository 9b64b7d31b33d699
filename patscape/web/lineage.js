/* patscape views: lineage. An alluvial (Sankey) view (the answer of /corpus/runs/R/flows, or the
 * report's copy) of where each topic's documents went from one run to the next, along the chain
 * of runs a run was aligned to or updated from, or, across the time windows of one run, which
 * earlier topic each window's patents build on. A column per run (or window), oldest on the left;
 * besides its topics (or the nodes of a level above them), each column has the places -1 and -2
 * (named by the view: outliers; not in this run, or nothing near before). A flow that keeps its
 * node's id is blue, one that moves to another node orange, one from -2 green, one to -2 grey. A
 * click on a flow lists its documents (onFlow). */
(function () {
  'use strict';
  var P = window.patscape = window.patscape || {};
  var C = P.core, isNum = C.isNum, str = C.str, arr = C.arr, el = C.el;
  var OUTLIERS = -1, ABSENT = -2;
  var KEPT = 'rgba(72, 104, 168, 0.38)', MOVED = 'rgba(224, 115, 106, 0.55)', NEW = 'rgba(46, 154, 91, 0.45)',
      GONE = 'rgba(150, 156, 168, 0.45)';

  function column(view, key) { return arr(view.columns).filter(function (c) { return c.key === key; })[0] || null; }
  // a node's name: "#12 label" (its column's label), or what a place holds
  function nodeName(view, key, node) {
    if (node < 0) return str(C.obj(view.places)[String(node)] || (node === OUTLIERS ? 'outliers' : 'elsewhere'));
    var col = column(view, key);
    var rec = col ? arr(col.nodes).filter(function (n) { return n.node === node; })[0] : null;
    return '#' + node + (rec ? ' ' + str(rec.label) : '');
  }
  function columnName(view, key) { var col = column(view, key); return col ? str(col.title) : str(key); }
  function flowColour(f) {
    if (f.source === ABSENT) return NEW;
    if (f.target === ABSENT) return GONE;
    return f.source === f.target && f.source >= 0 ? KEPT : MOVED;
  }

  // what the view says in words: per pair of runs, kept and moved documents (flows under min not drawn)
  function summary(view, min) {
    return arr(view.pairs).map(function (pair) {
      var total = 0, kept = isNum(pair.kept) ? pair.kept : 0, left = C.obj(pair.left_out);
      var under = isNum(left.flows) ? left.flows : 0, underDocs = isNum(left.documents) ? left.documents : 0;
      arr(pair.flows).forEach(function (f) {
        if (!isNum(f.documents)) return;
        total += f.documents;
        if (f.documents < min) { under += 1; underDocs += f.documents; }
      });
      total += isNum(left.documents) ? left.documents : 0;
      var head = columnName(view, pair.before) + ' \u2192 ' + columnName(view, pair.after) + ': ';
      var what = view.kind === 'windows'
        ? C.fmtInt(kept) + ' of ' + C.fmtInt(total) + ' patents are in the topic their nearest earlier patents are in' +
          (total ? ' (' + C.fmtPct(kept / total, 0) + ')' : '') + ', ' + C.fmtInt(total - kept) + ' build on another or on nothing near'
        : C.fmtInt(kept) + ' of ' + C.fmtInt(total) + ' documents stayed in a node with the same id' +
          (total ? ' (' + C.fmtPct(kept / total, 0) + ')' : '') + ', ' + C.fmtInt(total - kept) + ' moved, came or went';
      return head + what +
        (under ? '; ' + C.fmtInt(under) + ' smaller flows (' + C.fmtInt(underDocs) + ' documents) not drawn' : '');
    });
  }

  // div: the chart; view: the flows; min: the smallest flow drawn (documents; default 1).
  // Returns a Promise of whether anything was drawn.
  function render(div, view, min) {
    min = isNum(min) && min > 1 ? min : 1;
    var note = C.$('lineage-note');
    var cols = arr(view && view.columns), pairs = arr(view && view.pairs);
    var links = [];
    pairs.forEach(function (pair, p) {
      arr(pair.flows).forEach(function (f, j) {
        if (f && isNum(f.source) && isNum(f.target) && isNum(f.documents) && f.documents >= min) links.push({ pair: p, flow: j, f: f, from: pair.before, to: pair.after });
      });
    });
    document.body.setAttribute('data-flows', String(links.length));
    if (note) {   // a line per pair of columns; beyond two, folded under the last one
      C.clear(note);
      var lines = summary(view || {}, min);
      if (lines.length <= 2) lines.forEach(function (line) { note.appendChild(el('span', 'line', line)); });
      else {
        note.appendChild(el('span', 'line', lines[lines.length - 1]));
        var more = el('details', 'lineage-more', el('summary', null, 'every pair of ' + (view.kind === 'windows' ? 'windows' : 'runs') +
                                                    ' (' + lines.length + ')'));
        lines.forEach(function (line) { more.appendChild(el('span', 'line', line)); });
        note.appendChild(more);
      }
    }
    if (cols.length < 2 || !links.length) {
      return C.emptyPlot(div, cols.length < 2 && view && view.kind === 'windows'
        ? 'The patents of this run fall in one time window: choose shorter windows.'
        : cols.length < 2
        ? 'No run before this one is stored: it is the first map of its space, was numbered afresh (`patscape map --no-align`), ' +
          'or the run before it was deleted. The next `patscape map` (aligned to this one by default) or `patscape map --update` ' +
          'draws here how its topics continue this one; the time windows of this run are drawn now (Across).'
        : 'No flows of this size.');
    }
    // the nodes: a (column, node) pair met by a flow, in the order of their columns, then by id (places last)
    var index = {}, nodes = [];
    function nodeAt(key, node) {
      var id = key + ':' + node;
      if (!(id in index)) { index[id] = nodes.length; nodes.push({ key: key, node: node }); }
      return index[id];
    }
    cols.forEach(function (col) {
      var used = {};
      links.forEach(function (l) {
        if (l.from === col.key) used[l.f.source] = true;
        if (l.to === col.key) used[l.f.target] = true;
      });
      Object.keys(used).map(Number).sort(function (a, b) { return (a < 0) - (b < 0) || a - b; }).forEach(function (n) { nodeAt(col.key, n); });
    });
    // each node in its column (x), the column's nodes stacked by id (y: its middle), so that a
    // topic keeps its height from column to column; a node's size is the larger of its flows in and out
    var into = nodes.map(function () { return 0; }), out = into.slice();
    links.forEach(function (l) { out[index[l.from + ':' + l.f.source]] += l.f.documents; into[index[l.to + ':' + l.f.target]] += l.f.documents; });
    var value = nodes.map(function (n, i) { return Math.max(into[i], out[i]); });
    var xs = [], ys = [], labelled = [];
    cols.forEach(function (col, ci) {
      var members = [], total = 0;
      nodes.forEach(function (n, i) { if (n.key === col.key) { members.push(i); total += value[i]; } });
      var gap = total * 0.25 / Math.max(1, members.length), y = 0, span = total + gap * members.length;
      members.forEach(function (i) {
        xs[i] = Math.min(0.999, Math.max(0.001, cols.length > 1 ? ci / (cols.length - 1) : 0.5));
        ys[i] = Math.min(0.999, Math.max(0.001, (y + value[i] / 2 + gap / 2) / span));
        y += value[i] + gap;
        // the first and last columns are named in full; between them, beyond three columns, the larger nodes only
        // (not the one before the last, whose labels would run into the last one's)
        labelled[i] = cols.length <= 3 || ci === 0 || ci === cols.length - 1 || (ci < cols.length - 2 && value[i] >= 0.08 * total);
      });
    });
    var data = [{
      type: 'sankey', arrangement: 'snap', orientation: 'h', valueformat: ',d',
      node: {
        x: xs, y: ys,
        label: nodes.map(function (n, i) { return labelled[i] ? C.esc(C.clip(nodeName(view, n.key, n.node), 34)) : ''; }),
        color: nodes.map(function (n) { return n.node >= 0 ? C.topicColour(n.node) : n.node === OUTLIERS ? '#b8bec8' : '#e6e8ee'; }),
        customdata: nodes.map(function (n) { return C.esc(columnName(view, n.key) + ': ' + nodeName(view, n.key, n.node)); }),
        hovertemplate: '%{customdata}<br>%{value:,d} documents in these flows<extra></extra>',
        pad: 6, thickness: 14, line: { width: 0 }
      },
      link: {
        source: links.map(function (l) { return index[l.from + ':' + l.f.source]; }),
        target: links.map(function (l) { return index[l.to + ':' + l.f.target]; }),
        value: links.map(function (l) { return l.f.documents; }),
        color: links.map(function (l) { return flowColour(l.f); }),
        customdata: links.map(function (l) {
          return C.esc(columnName(view, l.from) + ' ' + nodeName(view, l.from, l.f.source) + ' \u2192 ' + columnName(view, l.to) + ' ' +
                       nodeName(view, l.to, l.f.target));
        }),
        hovertemplate: '%{customdata}<br>%{value:,d} documents (click to list them)<extra></extra>'
      }
    }];
    var height = Math.max(420, Math.min(2000, 24 * Math.max.apply(null, cols.map(function (col) {
      return nodes.filter(function (n) { return n.key === col.key; }).length;
    }))));
    var layout = {
      font: C.FONT, height: height, margin: { l: 10, r: 10, t: 34, b: 10 },
      annotations: cols.map(function (col, i) {
        return { text: C.esc(str(col.title)), x: cols.length > 1 ? i / (cols.length - 1) : 0, y: 1.0, xref: 'paper', yref: 'paper',
                 yanchor: 'bottom', xanchor: i === 0 ? 'left' : i === cols.length - 1 ? 'right' : 'center', showarrow: false,
                 font: { size: 12, color: '#555' } };
      })
    };
    return window.Plotly.react(C.plotReady(div), data, layout, C.plotConfig).then(function () {
      if (div.removeAllListeners) div.removeAllListeners('plotly_click');
      div.on('plotly_click', function (ev) {
        var point = ev && ev.points && ev.points[0];
        // a link's point has source and target nodes; a node's has sourceLinks
        if (!point || point.sourceLinks !== undefined || !isNum(point.index)) return;
        var l = links[point.index];
        if (l && P.lineageView.onFlow) P.lineageView.onFlow(l.from, l.to, l.f);
      });
      return true;
    });
  }

  // box: where a flow's documents are listed; docs: [{id, title}]; count: how many it holds
  function renderDocuments(box, view, from, to, flow, docs, count, onOpen) {
    C.clear(box);
    box.hidden = false;
    box.appendChild(el('h3', null, columnName(view, from) + ' ' + nodeName(view, from, flow.source) + ' \u2192 ' + columnName(view, to) +
      ' ' + nodeName(view, to, flow.target)));
    box.appendChild(el('p', 'muted', C.fmtInt(count) + ' document' + (count === 1 ? '' : 's') +
      (docs.length < count ? ', the first ' + C.fmtInt(docs.length) + ' by id' : '')));
    var list = el('ol', 'hits flow-docs');
    arr(docs).forEach(function (d) {
      var link = el('a', { href: '#', class: 'hit-title', 'data-id': str(d.id) }, str(d.title) || str(d.id));
      link.addEventListener('click', function (e) { e.preventDefault(); if (onOpen) onOpen(str(d.id)); });
      list.appendChild(el('li', 'hit', [el('span', 'pid', str(d.id) + ' '), link]));
    });
    box.appendChild(list);
    document.body.setAttribute('data-flow-docs', String(docs.length));
  }

  P.lineageView = { render: render, renderDocuments: renderDocuments, onFlow: null, nodeName: nodeName, OUTLIERS: OUTLIERS, ABSENT: ABSENT };
})();
