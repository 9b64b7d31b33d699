/* patscape views: the map's labels, like a map of countries and cities.
 *
 * A topic's label sits at the median of its points; a node of a level above the topics (a field,
 * a technology) at its medoid (the one of its points nearest to all the others, in a sample),
 * which lies in the node's territory even when the node spans separate regions.
 *
 * Which labels: with levels above the topics, "by zoom" shows the top level's labels while the whole
 * map is in view; zoomed in, those of the finest level whose nodes in view are few enough for the
 * plot's size (the technologies, then the topics, then the finest partition where the run has
 * sub-topics: each split topic's sub-topics and each other topic itself, at the median of their
 * points); and the next finer level's in smaller type where room is left (below the topics: their
 * sub-topics only);
 * or the labels of one chosen level. Without levels: the labels of the largest topics in view.
 * Labels are placed in order of priority (the active selection first, then the coarser level,
 * then the larger node) where their box covers no label placed before and not the legend (at the
 * centre, else just above or below it); the others are left out, and appear as one zooms in.
 */
(function () {
  'use strict';
  var P = window.patscape = window.patscape || {};
  var C = P.core, esc = C.esc, clip = C.clip;

  var MAX_LABELS = 30;
  var ZOOMED = 1.4;           // a view this many times smaller than the whole map counts as zoomed in        // labels of the largest topics in view (runs without levels)
  var LABEL_FONT = 11, LABEL_CHARS = 30, TREE_CHARS = 32;
  var WIDE = /[\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/;
  // per level (the topics' at index H.top(), their sub-topics' at H.top() + 1 where the run has them):
  // id -> [x, y], id -> count; subLabel/subParent: a sub-topic's label and topic
  var L = { centres: [], sizes: [], deepest: 0, subLabel: {}, subParent: {} };

  // ---------- centres ----------
  function middle(values) { var v = Float64Array.from(values).sort(), m = v.length >> 1; return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2; }
  function medoid(s) {
    var best = 0, bestSum = Infinity, n = s.x.length, cand = Math.min(n, 80);
    for (var a = 0; a < cand; a++) {
      var sum = 0;
      for (var b = 0; b < n; b++) { var dx = s.x[a] - s.x[b], dy = s.y[a] - s.y[b]; sum += Math.sqrt(dx * dx + dy * dy); }
      if (sum < bestSum) { bestSum = sum; best = a; }
    }
    return [s.x[best], s.y[best]];
  }
  // pts: the map's points; order: one fixed random order of them (samples are its first members)
  function setPoints(pts, order) {
    var H = P.hierarchy, top = H.top(), at = [], sizes = [], lv, k;
    var subs = C.arr(P.state.subtopics), sub = C.arr(pts.subtopic);
    L.subLabel = {}; L.subParent = {};
    subs.forEach(function (s) { L.subLabel[s.node] = C.str(s.label); L.subParent[s.node] = s.parent; });
    L.deepest = H.has() && subs.length && sub.length === pts.count ? top + 1 : top;
    for (lv = 0; lv <= L.deepest; lv++) { at.push({}); sizes.push({}); }
    for (k = 0; k < pts.count; k++) {
      var i = order[k], x = pts.x[i], y = pts.y[i], c = pts.cluster[i];
      if (!isFinite(x) || !isFinite(y) || c < 0 || (pts.placed && pts.placed[i])) continue;
      for (lv = 0; lv <= L.deepest; lv++) {
        // the level below the topics is the finest partition: a sub-topic, or a topic not split ('t' + id)
        var id = lv > top ? (C.isNum(sub[i]) && L.subParent[sub[i]] === c ? sub[i] : 't' + c) : lv === top ? c : H.ancestor(c, lv);
        if (id < 0) continue;
        sizes[lv][id] = (sizes[lv][id] || 0) + 1;
        var s = at[lv][id] || (at[lv][id] = { x: [], y: [] });
        if (s.x.length < (lv >= top ? 4000 : 600)) { s.x.push(x); s.y.push(y); }   // a random sample of each
      }
    }
    L.centres = at.map(function (level, lv) {
      var out = {};
      Object.keys(level).forEach(function (id) {
        out[id] = lv >= top ? [middle(level[id].x), middle(level[id].y)] : medoid(level[id]);
      });
      return out;
    });
    L.sizes = sizes;
  }

  // ---------- boxes ----------
  var ctx = null;
  function textWidth(text, size, bold) {   // measured where a canvas can, else estimated
    if (ctx === null) {
      try { var cv = document.createElement('canvas'); ctx = cv.getContext ? cv.getContext('2d') || false : false; } catch (e) { ctx = false; }
    }
    if (ctx) { ctx.font = (bold ? 'bold ' : '') + size + 'px ' + C.FONT.family; return ctx.measureText(text).width * 1.04; }
    var w = 0;
    for (var i = 0; i < text.length; i++) w += WIDE.test(text[i]) ? size : size * (bold ? 0.68 : 0.6);
    return w;
  }
  // Sizes are estimated from the text for runs without levels: wide (CJK, Hangul, fullwidth)
  // characters take about the font size, others a little over half of it.
  function labelBox(text) {
    var w = 0;
    for (var i = 0; i < text.length; i++) w += WIDE.test(text[i]) ? LABEL_FONT : LABEL_FONT * 0.6;
    return { w: w + 12, h: LABEL_FONT + 10 };   // padding and border
  }
  // a keyword label ("a · b · c") is cut after a whole keyword where it can be
  function cut(text, n) {
    if (text.length <= n) return text;
    var at = text.lastIndexOf(' \u00b7 ', n - 1);
    return at >= n / 3 ? text.slice(0, at) : clip(text, n);
  }

  // ---------- which labels ----------
  function inView(lv, area) {
    var cs = L.centres[lv] || {};
    return Object.keys(cs).filter(function (k) {
      var p = cs[k];
      return p[0] >= area.x[0] && p[0] <= area.x[1] && p[1] >= area.y[0] && p[1] <= area.y[1];
    });
  }
  // by zoom: the top level while the whole map is in view; zoomed in, the finest level whose nodes
  // in view are few enough for the plot's size
  function autoLevel(area) {
    var H = P.hierarchy, target = Math.max(4, Math.min(16, Math.round(area.w * area.h / 50000)));
    if (!(area.zoom >= ZOOMED)) return 0;
    for (var lv = L.deepest; lv > 0; lv--) if (inView(lv, area).length <= target) return lv;
    return 0;
  }
  // the label of a node of a level, of a topic, or of a sub-topic (the level below the topics)
  function nodeLabel(lv, id) {
    var H = P.hierarchy;
    return lv > H.top() ? L.subLabel[id] || 'sub-topic ' + id : H.label(lv, id);
  }
  function style(lv, secondary, colourLevel, id) {
    var H = P.hierarchy, top = H.top(), size = lv === 0 ? 13 : lv < top ? 12 : lv === top ? 11 : 10;
    if (secondary) size -= 1;
    return { size: size, bold: lv === 0 && !secondary, colour: secondary ? '#3d4452' : '#1d2330',
             bg: secondary ? 'rgba(255,255,255,0.62)' : 'rgba(255,255,255,0.85)',
             border: secondary || lv > top ? 'rgba(0,0,0,0)' : colourLevel === lv || (colourLevel == null && lv === top) ? C.topicColour(id) : '#8892a3',
             borderwidth: secondary ? 0 : lv === 0 ? 1.5 : 1 };
  }
  // area: the plot in pixels, its data ranges and boxes to keep free; opts: {mode, colourLevel}
  function annotations(area, opts) {
    var H = P.hierarchy, top = H.top(), tree = H.has(), active = H.activeClusters(), mode = opts.mode;
    if (!area || mode === 'off' || !L.centres.length) return [];
    var sx = area.w / ((area.x[1] - area.x[0]) || 1), sy = area.h / ((area.y[1] - area.y[0]) || 1);
    var plan;   // [level, secondary, most labels]
    if (!tree) plan = [[top, false, MAX_LABELS]];
    else if (mode === 'auto') {
      var lv0 = autoLevel(area);
      plan = [[lv0, false, MAX_LABELS]];
      if (lv0 < L.deepest) plan.push([lv0 + 1, true, MAX_LABELS]);
    } else plan = [[Math.min(Number(mode), L.deepest), false, MAX_LABELS]];
    var taken = area.keep.slice(), out = [];   // labels stay off the legend too
    plan.forEach(function (step) {
      var lv = step[0], secondary = step[1], sizes = L.sizes[lv], centres = L.centres[lv], placedHere = 0;
      var related = {};
      if (active) {
        if (lv > top) {
          Object.keys(L.subParent).forEach(function (s) { if (active.has(L.subParent[s])) related[s] = true; });
          active.forEach(function (c) { related['t' + c] = true; });
        } else active.forEach(function (c) { related[H.ancestor(c, lv)] = true; });
      }
      var keys = inView(lv, area).filter(function (k) { return !(secondary && k[0] === 't'); }).sort(function (a, b) {
        return (!!related[b]) - (!!related[a]) || sizes[b] - sizes[a] || (a < b ? -1 : a > b ? 1 : 0);
      });
      for (var n = 0; n < keys.length && placedHere < step[2]; n++) {
        // at the level below the topics, a topic without sub-topics is labelled as itself
        var own = lv > top && keys[n][0] === 't' ? top : lv, id = Number(own === lv ? keys[n] : keys[n].slice(1));
        var st = tree ? style(own, secondary, opts.colourLevel, id) : null;
        var text = tree ? cut(nodeLabel(own, id), TREE_CHARS) : clip(C.topicLabel(id), LABEL_CHARS);
        var box = tree ? { w: textWidth(text, st.size, st.bold) + 12, h: st.size + 10 } : labelBox(text);
        var px = (centres[keys[n]][0] - area.x[0]) * sx, py = (area.y[1] - centres[keys[n]][1]) * sy;
        var shifts = [0, -(box.h + 2), box.h + 2], placed = null;
        for (var t = 0; t < shifts.length && !placed; t++) {
          var r = { l: px - box.w / 2, r: px + box.w / 2, t: py + shifts[t] - box.h / 2, b: py + shifts[t] + box.h / 2 };
          var dx = 0;
          if (tree) {   // moved in from the plot's left or right edge; not cut by its top or bottom
            dx = r.l < 0 ? Math.min(-r.l, box.w / 2) : r.r > area.w ? -Math.min(r.r - area.w, box.w / 2) : 0;
            r.l += dx; r.r += dx;
            if (r.l < 0 || r.r > area.w || r.t < 0 || r.b > area.h) continue;
          }
          if (!taken.some(function (o) { return r.l < o.r && o.l < r.r && r.t < o.b && o.t < r.b; })) placed = { r: r, shift: shifts[t], dx: dx };
        }
        if (!placed) continue;
        taken.push(placed.r);
        placedHere++;
        var opacity = !active || related[keys[n]] ? 0.95 : 0.3;
        if (!tree) {
          out.push({ x: centres[keys[n]][0], y: centres[keys[n]][1], yshift: -placed.shift, text: esc(text), showarrow: false,
                     font: { size: LABEL_FONT, color: '#1d2330' }, bgcolor: 'rgba(255,255,255,0.78)', bordercolor: C.topicColour(id),
                     borderwidth: 1, borderpad: 2, opacity: opacity, hovertext: esc('#' + id + ' ' + C.topicLabel(id)) });
          continue;
        }
        out.push({ x: centres[keys[n]][0], y: centres[keys[n]][1], yshift: -placed.shift, xshift: placed.dx,
                   text: st.bold ? '<b>' + esc(text) + '</b>' : esc(text), showarrow: false,
                   font: { size: st.size, color: st.colour }, bgcolor: st.bg, bordercolor: st.border, borderwidth: st.borderwidth,
                   borderpad: 2, opacity: opacity, name: 'level:' + own + ':' + id,
                   hovertext: esc((own > top ? 'sub-topic #' + id : H.levelName(own) + (own === top ? ' #' + id : '')) + ': ' + nodeLabel(own, id)) });
      }
    });
    return out;
  }

  P.mapLabels = { setPoints: setPoints, annotations: annotations, autoLevel: autoLevel,
                  deepest: function () { return L.deepest; },
                  centre: function (level, id) { var c = (L.centres[level] || {})[id]; return c ? c.slice() : null; } };
})();
