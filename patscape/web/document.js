/* patscape views: the document panel. A patent's facts (its place in the topic hierarchy as a
 * breadcrumb: field \u203a technology \u203a topic), its text (claims numbered, a matching passage
 * highlighted) and its most similar patents (in the report: its nearest points on the map). */
(function () {
  'use strict';
  var P = window.patscape = window.patscape || {};
  var C = P.core, el = C.el, $ = C.$, str = C.str, clip = C.clip, isNum = C.isNum;

  function hitItem(hit) {
    var evidence = hit.passage;
    var button = el('button', null, [
      el('span', 't', [P.hierarchy.has() ? P.hierarchy.dot(P.hierarchy.top(), hit.cluster) : C.dot(hit.cluster), clip(hit.title || '(no title)', 160)]),
      el('span', 'm', [hit.id, hit.date ? ' \u00b7 ' + hit.date : '', isNum(hit.score) ? ' \u00b7 ' + hit.score.toFixed(3) : '',
        hit.cluster != null ? ' \u00b7 ' + clip(C.topicLabel(hit.cluster), 40) : '']),
      // the passage that matched: the evidence for this hit, shown as text (never as HTML)
      evidence ? el('span', 'evidence', [el('span', 'evidence-field', evidence.field + ' \u00b7 ' + evidence.score.toFixed(3)),
        el('mark', null, clip(evidence.text, 320))]) : null
    ]);
    button.type = 'button';
    button.setAttribute('data-id', hit.id);
    button.addEventListener('click', function () { show(hit.id, evidence); });
    return el('li', null, button);
  }
  // Hits grouped by the top level's node of their topic (groups in the order of their best hit),
  // or one plain list for a run without levels.
  function hitList(list, hits) {
    var H = P.hierarchy;
    C.clear(list);
    if (!H.has()) { hits.forEach(function (hit) { list.appendChild(hitItem(hit)); }); return; }
    var groups = [], byKey = {};
    hits.forEach(function (hit) {
      var id = isNum(hit.cluster) ? H.ancestor(hit.cluster, 0) : -2;
      var g = byKey[id] || (byKey[id] = groups[groups.push({ id: id, hits: [] }) - 1]);
      g.hits.push(hit);
    });
    groups.forEach(function (g) {
      var name = g.id >= 0 ? H.label(0, g.id) : g.id === -1 ? 'outside any topic' : 'not on the map';
      var inner = el('ol', 'hits');
      g.hits.forEach(function (hit) { inner.appendChild(hitItem(hit)); });
      list.appendChild(el('li', { class: 'hit-group', 'data-node': String(g.id) }, [
        el('div', 'group-head', [g.id >= 0 ? H.dot(0, g.id) : null, el('span', 'group-name', name),
          el('span', 'muted', ' ' + H.levelName(0) + ' \u00b7 ' + g.hits.length + ' hit' + (g.hits.length === 1 ? '' : 's'))]),
        inner]));
    });
  }
  // A patent's topic, with the nodes above it: field \u203a technology \u203a topic.
  function breadcrumb(cluster, label, sub) {
    var H = P.hierarchy;
    if (cluster == null) return 'not on the map';
    if (cluster < 0) return [C.dot(cluster), 'outlier (no topic)'];
    var path = H.has() ? H.path(cluster) : null;
    var topic = [path ? H.dot(H.top(), cluster) : C.dot(cluster), '#' + cluster + ' ' + (label || '')];
    // its sub-topic, where its topic has them (the level below the topic)
    var below = sub && C.isNum(sub.id) ? [el('span', 'sep', ' \u203a '),
      el('span', { class: 'crumb crumb-sub', title: 'sub-topic', 'data-subtopic': String(sub.id) }, str(sub.label || 'sub-topic ' + sub.id))] : [];
    if (!path) return below.length ? [el('span', { class: 'crumb crumb-topic', title: 'topic' }, topic)].concat(below) : topic;
    var out = el('span', 'crumbs');
    path.forEach(function (id, lv) {
      var crumb = el('button', { class: 'crumb', type: 'button', 'data-level': String(lv), 'data-node': String(id),
                                 title: H.levelName(lv) + ': show on the map' }, H.label(lv, id));
      crumb.addEventListener('click', function () { if (onNode) onNode(lv, id); });
      out.appendChild(crumb);
      out.appendChild(el('span', 'sep', ' \u203a '));
    });
    out.appendChild(el('span', { class: 'crumb crumb-topic', title: 'topic' }, topic));
    below.forEach(function (node) { out.appendChild(node); });
    return out;
  }
  var onNode = null;
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
      C.clear(node);
      C.add(node, [text.slice(0, from), el('mark', 'passage', text.slice(from, to)), text.slice(to)]);
      first = first || node;
    });
    return first;
  }
  function lines(text) { return str(text).split('\n').filter(function (line) { return line.trim(); }); }
  // One claim per line; a leading "12." becomes the item's number so it is not shown twice.
  function showClaims(claims) {
    var list = $('doc-claims');
    C.clear(list);
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
    C.clear(box);
    paragraphs.forEach(function (paragraph) { box.appendChild(el('p', null, paragraph)); });
    $('doc-description-count').textContent = '(' + C.fmtInt(paragraphs.length) + ' paragraph' + (paragraphs.length === 1 ? '' : 's') + ')';
    $('doc-description-box').open = false;
    $('doc-description-box').hidden = !paragraphs.length;
  }
  function fill(doc, evidence) {
    var hint = $('panel-hint');
    if (hint) hint.hidden = true;
    $('doc').hidden = false;
    $('doc').setAttribute('data-id', doc.id);
    $('doc-id').textContent = doc.id + (doc.placed ? ' \u00b7 added since the map was built' : '');
    $('doc-title').textContent = doc.title || '(no title)';
    $('doc-date').textContent = doc.date || '\u2014';
    $('doc-assignee').textContent = doc.assignee || '\u2014';
    var topic = $('doc-topic');
    C.clear(topic);
    C.add(topic, breadcrumb(doc.cluster, doc.label, doc.subtopic != null ? { id: doc.subtopic, label: doc.subtopic_label } : null));
    var codes = (C.arr(doc.cpc).length ? doc.cpc : C.arr(doc.ipc)).slice(0, 8);
    $('doc-codes').textContent = codes.length ? codes.join(', ') : '\u2014';
    $('doc-abstract').textContent = doc.abstract || '';
    $('doc-abstract').hidden = !doc.abstract;
    var body = $('doc-text');
    C.clear(body);
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
    $('doc-similar-title').textContent = doc.neighbours_on_map ? 'Nearest patents on the map' : 'Most similar patents';
    var list = $('doc-similar');
    C.clear(list);
    C.arr(doc.neighbours).forEach(function (hit) { list.appendChild(hitItem(hit)); });
    $('doc-similar-none').hidden = C.arr(doc.neighbours).length > 0;
    $('panel').scrollTop = 0;
    if (marked) marked.scrollIntoView({ block: 'center' });
    document.body.setAttribute('data-evidence', marked ? evidence.field : '');
    return marked;
  }
  function show(id, evidence) {
    return P.source.document(id).then(function (doc) {
      fill(doc, evidence);
      P.state.selected = P.mapView.has(doc.id) ? doc.id : null;
      document.body.setAttribute('data-selected', doc.id);
      return P.mapView.render();
    }).catch(function (err) { C.showError('The document could not be shown: ' + err.message); });
  }

  P.panel = { show: show, hitItem: hitItem, hitList: hitList, onNode: function (fn) { onNode = fn; } };
})();
