// The status page's charts: a gate's `series` view (schemas/status/views.ts) drawn as
// SVG, steps, a line or bars, with bands across either axis. Knows no gate. Plain browser
// JavaScript on kit.js.
(function () {
  'use strict';

  var P = window.StatusPage;
  var el = P.el;
  var svg = P.svg;
  var fmtNumber = P.fmtNumber;
  var fmtPnl = P.fmtPnl;
  var fmtTime = P.fmtTime;
  var axisTimes = P.axisTimes;
  var richText = P.richText;

  /** The point under the pointer of each chart (its x), kept across redraws. */
  var hovered = {};

  /**
   * A chart of the points: steps (the value holds until the next point), a line, or bars; x in
   * time or any measure; bands from edges in the value across either axis. A chart with bands is
   * drawn with its axes, ticks at the edges and a tip for the point under the pointer; one
   * without, compact, with a dashed line at `from` and a title on each point.
   */
  function seriesView(value, view, ctx) {
    var X = view.x;
    var Y = view.y;
    var id = ctx.key + '-chart' + (ctx.index ? '-' + ctx.index : '');
    var points = (Array.isArray(value[view.points]) ? value[view.points] : []).filter(function (p) {
      return typeof p[X] === 'number' && typeof p[Y] === 'number';
    });
    var container = el('div', { id: id, 'data-testid': id });
    var figure = el('figure', { class: 'chart' }, [container, view.caption ? el('figcaption', null, richText(view.caption)) : null]);
    if (points.length === 0) {
      if (view.empty) container.appendChild(el('p', { class: 'muted' }, view.empty));
      return figure;
    }
    var banded = !!view.bands;
    var edges =
      banded && value[view.bands.at]
        ? view.bands.edges.map(function (k) {
            return value[view.bands.at][k];
          })
        : null;
    var W = ctx.width;
    var H = banded ? 240 : 200;
    var M = banded ? { top: 14, right: 64, bottom: 34, left: 52 } : { top: 12, right: 16, bottom: 30, left: 70 };
    var iw = W - M.left - M.right;
    var ih = H - M.top - M.bottom;
    var timeX = view.xFormat !== 'number';
    var yDigits = view.yDigits === undefined ? 4 : view.yDigits;
    function fmtY(v, digits) {
      return view.yFormat === 'dollars' ? fmtPnl(v) : fmtNumber(v, digits === undefined ? yDigits : digits);
    }
    function fmtX(v) {
      return timeX ? fmtTime(v) : fmtNumber(v, 2);
    }
    var ys = points.map(function (p) {
      return p[Y];
    });
    var minY = Math.min.apply(null, ys);
    var maxY = Math.max.apply(null, ys);
    var lo, top;
    if (banded && view.bands.axis === 'y') {
      lo = Math.min(0, minY);
      top = Math.max(maxY, edges ? edges[edges.length - 1] : 0) * 1.15;
      if (!(top > lo)) top = lo + 1;
    } else {
      lo = view.from !== undefined ? Math.min(view.from, minY) : view.mark === 'bars' ? Math.min(0, minY) : minY;
      top = view.from !== undefined ? Math.max(view.from, maxY) : maxY;
      if (banded) top = top * 1.15;
      if (top === lo) top = lo + 1;
    }
    var x0 = points[0][X];
    var x1 = points[points.length - 1][X];
    var mark = view.mark || 'steps';
    // Bars stand on their x, each as wide as the closest two are apart: half a bar's room each side.
    var gap = 1;
    if (mark === 'bars') {
      gap = points.reduce(function (g, p, i) {
        var d = i === 0 ? Infinity : p[X] - points[i - 1][X];
        return d > 0 && d < g ? d : g;
      }, Infinity);
      if (!isFinite(gap)) gap = Math.abs(x0) || 1;
      x0 -= gap / 2;
      x1 += gap / 2;
    }
    if (banded && view.bands.axis === 'x' && edges) {
      x0 = Math.min(x0, edges[0]);
      x1 = Math.max(x1, edges[edges.length - 1]);
    }
    var span = x1 - x0 || 1;
    function xAt(v, i) {
      if (points.length === 1) return M.left + iw / 2;
      if (x1 === x0) return M.left + (i / (points.length - 1)) * iw;
      return M.left + ((v - x0) / span) * iw;
    }
    function yAt(v) {
      return M.top + ih - ((Math.min(v, top) - lo) / (top - lo)) * ih;
    }
    var last = points[points.length - 1];
    var named = view.name ? view.name + ' ' : '';
    function tagOf(p) {
      return view.tag && p[view.tag] ? ' ' + p[view.tag] : '';
    }
    var children = [
      svg('title', { id: id + '-title' }, view.label),
      svg(
        'desc',
        { id: id + '-desc' },
        points.length +
          ' ' +
          (view.pointsAre || 'points') +
          ' from ' +
          fmtX(x0) +
          ' to ' +
          fmtX(points[points.length - 1][X]) +
          '; latest ' +
          named +
          fmtY(last[Y]) +
          (view.tag && last[view.tag] ? ' (' + last[view.tag] + ')' : '') +
          '; lowest ' +
          fmtY(minY) +
          ', highest ' +
          fmtY(maxY) +
          '.',
      ),
    ];
    if (banded && edges) drawBands(children, view.bands, edges, { M: M, iw: iw, ih: ih, top: top, lo: lo, xAt: xAt, yAt: yAt });
    if (banded) {
      var ticks = view.bands.axis === 'y' && edges ? [lo].concat(edges, [top]) : [lo, (lo + top) / 2, top];
      ticks
        .filter(function (v) {
          return v <= top;
        })
        .forEach(function (v) {
          children.push(svg('text', { x: M.left - 6, y: yAt(v) + 4, class: 'axis-label', 'text-anchor': 'end' }, fmtY(v, 2)));
        });
      children.push(svg('line', { x1: M.left, x2: M.left, y1: M.top, y2: M.top + ih, class: 'axis' }));
      children.push(svg('line', { x1: M.left, x2: M.left + iw, y1: M.top + ih, y2: M.top + ih, class: 'axis' }));
    } else {
      if (view.from !== undefined)
        children.push(svg('line', { x1: M.left, x2: M.left + iw, y1: yAt(view.from), y2: yAt(view.from), class: 'threshold' }));
      children.push(svg('text', { x: M.left - 6, y: yAt(top) + 4, class: 'axis-label', 'text-anchor': 'end' }, fmtY(top, 2)));
      children.push(svg('text', { x: M.left - 6, y: yAt(lo) + 4, class: 'axis-label', 'text-anchor': 'end' }, fmtY(lo, 2)));
    }
    var below = H - (banded ? 10 : 8);
    if (timeX) {
      var ends = axisTimes(x0, x1, W);
      children.push(svg('text', { x: M.left, y: below, class: 'axis-label' }, ends[0]));
      children.push(svg('text', { x: M.left + iw, y: below, class: 'axis-label', 'text-anchor': 'end' }, ends[1]));
    } else {
      // A measure on x: the first and the last point's, under them.
      [points[0], points[points.length - 1]].forEach(function (p, i) {
        if (i === 1 && points.length === 1) return;
        children.push(svg('text', { x: xAt(p[X], i), y: below, class: 'axis-label', 'text-anchor': 'middle' }, fmtNumber(p[X], 2)));
      });
    }

    var coords = points.map(function (p, i) {
      return { p: p, cx: xAt(p[X], i), cy: yAt(p[Y]) };
    });
    if (mark === 'bars') {
      var barWidth = Math.max(1, (gap / span) * iw * 0.8);
      coords.forEach(function (c) {
        var base = yAt(Math.max(lo, Math.min(0, top)));
        children.push(
          svg('rect', { x: c.cx - barWidth / 2, y: Math.min(c.cy, base), width: barWidth, height: Math.abs(base - c.cy), class: 'bar' }),
        );
      });
    } else if (view.from !== undefined) {
      // From the baseline: each point moves the line at its x (steps), or the line runs to it.
      var previous = view.from;
      var line = [];
      coords.forEach(function (c) {
        if (mark === 'steps') line.push(c.cx.toFixed(1) + ',' + yAt(previous).toFixed(1));
        line.push(c.cx.toFixed(1) + ',' + c.cy.toFixed(1));
        previous = c.p[Y];
      });
      children.push(svg('polyline', { class: 'heat-line', points: line.join(' ') }));
    } else {
      // The value holds from one point to the next: a step line, not a slope between them.
      var d = coords
        .map(function (c, i) {
          var px = c.cx.toFixed(1);
          var py = c.cy.toFixed(1);
          return i === 0 ? 'M' + px + ',' + py : mark === 'steps' ? 'H' + px + 'V' + py : 'L' + px + ',' + py;
        })
        .join('');
      children.push(svg('path', { class: 'heat-line', d: d }));
    }
    if (banded)
      drawTip(children, id, coords, { W: W, M: M, iw: iw, ih: ih, named: named, fmtY: fmtY, fmtX: fmtX, tagOf: tagOf, Y: Y, X: X });
    else
      coords.forEach(function (c) {
        children.push(
          svg('circle', { cx: c.cx, cy: c.cy, r: 2.5, class: 'heat-dot' }, svg('title', {}, fmtX(c.p[X]) + ': ' + fmtY(c.p[Y]))),
        );
      });
    var chart = svg(
      'svg',
      { viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-labelledby': id + '-title ' + id + '-desc', class: 'chart-svg' },
      children,
    );
    container.appendChild(chart);
    return figure;
  }

  /** The bands between the edges, named at their side, and a dashed line at each edge. */
  function drawBands(children, bands, edges, g) {
    var M = g.M;
    var bounds = [bands.axis === 'y' ? g.lo : -Infinity].concat(edges, [Infinity]);
    bands.names.forEach(function (name, i) {
      var from = bounds[i];
      var to = bounds[i + 1];
      var cls = 'band band-' + Math.min(i, 2);
      if (bands.axis === 'y') {
        if (from >= g.top) return;
        var yTop = g.yAt(Math.min(to, g.top));
        var yBottom = g.yAt(Math.max(from, g.lo));
        children.push(svg('rect', { x: M.left, y: yTop, width: g.iw, height: Math.max(0, yBottom - yTop), class: cls }));
        children.push(svg('text', { x: M.left + g.iw + 6, y: (yTop + yBottom) / 2 + 4, class: 'band-label' }, name));
      } else {
        var left = Math.max(M.left, from === -Infinity ? M.left : g.xAt(from, 0));
        var right = Math.min(M.left + g.iw, to === Infinity ? M.left + g.iw : g.xAt(to, 0));
        if (right <= left) return;
        children.push(svg('rect', { x: left, y: M.top, width: right - left, height: g.ih, class: cls }));
        children.push(svg('text', { x: (left + right) / 2, y: M.top + 12, class: 'band-label', 'text-anchor': 'middle' }, name));
      }
    });
    edges.forEach(function (v) {
      if (bands.axis === 'y') {
        if (v > g.top) return;
        children.push(svg('line', { x1: M.left, x2: M.left + g.iw, y1: g.yAt(v), y2: g.yAt(v), class: 'threshold' }));
      } else {
        var x = g.xAt(v, 0);
        children.push(svg('line', { x1: x, x2: x, y1: M.top, y2: M.top + g.ih, class: 'threshold' }));
        children.push(svg('text', { x: x, y: M.top + g.ih + 14, class: 'axis-label', 'text-anchor': 'middle' }, fmtNumber(v, 2)));
      }
    });
  }

  /** Each point with its value and x as a title, and a tip for the nearest point under the pointer or focus. */
  function drawTip(children, id, coords, g) {
    // Anywhere over the plot shows the nearest point (a finger cannot aim at a dot).
    var overlay = svg('rect', { x: g.M.left, y: g.M.top, width: g.iw, height: g.ih, class: 'hover-area' });
    children.push(overlay);
    function said(c, joint) {
      return g.named + g.fmtY(c.p[g.Y]) + g.tagOf(c.p) + joint + g.fmtX(c.p[g.X]);
    }
    coords.forEach(function (c, i) {
      var label = said(c, ' at ');
      var point = svg('g', { class: 'heat-point', tabindex: 0, 'data-at': c.p[g.X], 'aria-label': label }, [
        svg('title', null, label),
        // A bar is its own mark; a line's points are dots, the latest larger.
        g.dots ? svg('circle', { cx: c.cx, cy: c.cy, r: i === coords.length - 1 ? 4.5 : 2.5, class: 'heat-dot' }) : null,
        svg('circle', { cx: c.cx, cy: c.cy, r: 10, class: 'heat-hit' }),
      ]);
      point.addEventListener('mouseenter', function () {
        showTip(c);
      });
      point.addEventListener('focus', function () {
        showTip(c);
      });
      point.addEventListener('mouseleave', hideTip);
      point.addEventListener('blur', hideTip);
      children.push(point);
    });
    var tipText = svg('text', { class: 'tip-text', x: 8, y: 17 });
    var tipBox = svg('rect', { class: 'tip-box', rx: 4, height: 24 });
    var tip = svg('g', { class: 'chart-tip', 'data-testid': id.replace(/-chart/, '-tip'), visibility: 'hidden', 'aria-hidden': 'true' }, [
      tipBox,
      tipText,
    ]);
    children.push(tip);
    overlay.addEventListener('pointermove', function (event) {
      var box = overlay.ownerSVGElement.getBoundingClientRect();
      var vx = ((event.clientX - box.left) / box.width) * g.W;
      var nearest = coords.reduce(function (best, c) {
        return Math.abs(c.cx - vx) < Math.abs(best.cx - vx) ? c : best;
      }, coords[0]);
      showTip(nearest);
    });
    overlay.addEventListener('pointerleave', hideTip);

    function showTip(c) {
      hovered[id] = c.p[g.X];
      tipText.textContent = said(c, ' · ');
      tip.setAttribute('visibility', 'visible');
      var width = tipText.getComputedTextLength() + 16;
      tipBox.setAttribute('width', width.toFixed(1));
      var tx = Math.max(0, Math.min(g.W - width, c.cx - width / 2));
      var ty = c.cy - 34 < 0 ? c.cy + 12 : c.cy - 34;
      tip.setAttribute('transform', 'translate(' + tx.toFixed(1) + ',' + ty.toFixed(1) + ')');
    }
    function hideTip() {
      delete hovered[id];
      tip.setAttribute('visibility', 'hidden');
    }
    // The chart is redrawn every poll: keep showing the point the reader is looking at (once it is in the page).
    overlay.restore = function () {
      var still = coords.filter(function (c) {
        return hovered[id] !== undefined && c.p[g.X] === hovered[id];
      })[0];
      if (still) showTip(still);
      else delete hovered[id];
    };
  }

  P.seriesView = seriesView;
})();
