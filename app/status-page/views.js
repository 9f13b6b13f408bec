// The status page's drawing of the gates' sections, from the shapes each gate declares (GET
// /status/sections, runtime/contract/status-views.ts): this file knows no gate. Plain browser JavaScript,
// no build step and nothing loaded from elsewhere. Every value from Redis goes in through
// textContent, never innerHTML, because symbols, reasons and plan ids are data other services wrote.
(function () {
  'use strict';

  var SVG_NS = 'http://www.w3.org/2000/svg';

  function $(id) {
    return document.getElementById(id);
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    setAttrs(node, attrs);
    append(node, children);
    return node;
  }

  function svg(tag, attrs, children) {
    var node = document.createElementNS(SVG_NS, tag);
    setAttrs(node, attrs);
    append(node, children);
    return node;
  }

  function setAttrs(node, attrs) {
    if (!attrs) return;
    Object.keys(attrs).forEach(function (key) {
      if (attrs[key] !== undefined && attrs[key] !== null) node.setAttribute(key, String(attrs[key]));
    });
  }

  function append(node, children) {
    if (children === undefined || children === null) return;
    (Array.isArray(children) ? children : [children]).forEach(function (child) {
      if (child === undefined || child === null) return;
      node.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
    });
  }

  function replaceRows(tbody, rows, columns, emptyText) {
    tbody.replaceChildren();
    if (rows.length === 0) {
      tbody.appendChild(el('tr', null, el('td', { colspan: columns, class: 'muted' }, emptyText)));
      return;
    }
    var labels = columnLabels(tbody);
    rows.forEach(function (row) {
      labelCells(row, labels);
      tbody.appendChild(row);
    });
  }

  /** The table's column headings, in order. */
  function columnLabels(tbody) {
    var table = tbody.closest('table');
    var head = table ? table.querySelector('thead tr') : null;
    return head
      ? Array.prototype.map.call(head.children, function (th) {
          return th.textContent.trim();
        })
      : [];
  }

  /**
   * Each cell names its column (data-label): on a narrow screen a wide table is laid out as one
   * card per row (style.css, table.stack), where the heading row is out of sight.
   */
  function labelCells(row, labels) {
    if (row.children.length !== labels.length) return;
    Array.prototype.forEach.call(row.children, function (c, i) {
      if (!c.hasAttribute('data-label')) c.setAttribute('data-label', labels[i]);
    });
  }

  /**
   * A snake_case code with a break opportunity after each underscore, so a long reason wraps
   * between its words instead of widening its column or being cut.
   */
  function breakable(text) {
    var parts = String(text).split('_');
    var nodes = [];
    parts.forEach(function (part, i) {
      nodes.push(i < parts.length - 1 ? part + '_' : part);
      if (i < parts.length - 1) nodes.push(el('wbr'));
    });
    return nodes;
  }

  function fmtCount(n) {
    return n === null || n === undefined ? '–' : Number(n).toLocaleString('en-US');
  }

  function fmtNumber(n, digits) {
    return n === null || n === undefined ? '–' : Number(n).toFixed(digits);
  }

  function fmtUsd(n) {
    return n === null || n === undefined ? '–' : Number(n).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  }

  function pad(n) {
    return n < 10 ? '0' + n : String(n);
  }

  // The browser's own zone, named: "UTC", "CET", "GMT+2"… A time without its zone is a guess.
  var zoneFormat = typeof Intl === 'object' ? new Intl.DateTimeFormat(undefined, { timeZoneName: 'short' }) : null;

  function zoneName(d) {
    var part = zoneFormat
      ? zoneFormat.formatToParts(d).filter(function (p) {
          return p.type === 'timeZoneName';
        })[0]
      : null;
    if (part) return part.value;
    var offset = -d.getTimezoneOffset();
    return 'UTC' + (offset >= 0 ? '+' : '−') + pad(Math.floor(Math.abs(offset) / 60)) + ':' + pad(Math.abs(offset) % 60);
  }

  /** "2026-11-22 13:04:05 UTC": local date and time with the zone's name. */
  function fmtTime(ms) {
    if (ms === null || ms === undefined || !isFinite(ms) || ms <= 0) return '–';
    var d = new Date(ms);
    return (
      d.getFullYear() +
      '-' +
      pad(d.getMonth() + 1) +
      '-' +
      pad(d.getDate()) +
      ' ' +
      pad(d.getHours()) +
      ':' +
      pad(d.getMinutes()) +
      ':' +
      pad(d.getSeconds()) +
      ' ' +
      zoneName(d)
    );
  }

  /** "13:04:05 UTC", or "11-21 13:04 UTC" for a time of another day than `ref`: a chart's axis on a narrow screen. */
  function fmtShortTime(ms, ref) {
    var d = new Date(ms);
    var r = new Date(ref);
    var sameDay = d.getFullYear() === r.getFullYear() && d.getMonth() === r.getMonth() && d.getDate() === r.getDate();
    return sameDay
      ? pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds()) + ' ' + zoneName(d)
      : pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' + pad(d.getHours()) + ':' + pad(d.getMinutes()) + ' ' + zoneName(d);
  }

  /**
   * A chart's width in its own units: the width it is drawn at (its figure's, at most 960 px, as
   * wide as the sections), so a 12 px label is 12 px on a phone as on a desktop (a fixed 760-unit
   * drawing scaled down to 366 px made them 5.8 px).
   */
  function chartWidth(sections) {
    var width = sections.clientWidth || 760;
    return Math.round(Math.max(300, Math.min(960, width)));
  }

  /** Axis times: in full where there is room for two, shorter on a narrow chart. */
  function axisTimes(t0, t1, width) {
    return width < 560 ? [fmtShortTime(t0, t1), fmtShortTime(t1, t1)] : [fmtTime(t0), fmtTime(t1)];
  }

  /** A time in a narrow column: the date, and below it the time with its zone (same text as fmtTime). */
  function stackedTimeEl(ms) {
    var text = fmtTime(ms);
    if (!ms || text === '–') return el('span', { class: 'muted' }, '–');
    var space = text.indexOf(' ');
    return el('time', { datetime: new Date(ms).toISOString() }, [
      el('span', { class: 'nowrap' }, text.slice(0, space)),
      ' ',
      el('span', { class: 'nowrap' }, text.slice(space + 1)),
    ]);
  }

  /** A <time> element: formatted for people, ISO for machines. */
  function timeEl(ms) {
    return ms ? el('time', { datetime: new Date(ms).toISOString() }, fmtTime(ms)) : el('span', { class: 'muted' }, '–');
  }

  function fmtAgo(ms, now) {
    if (ms === null || ms === undefined) return '';
    var s = Math.max(0, Math.round((now - ms) / 1000));
    if (s < 60) return s + ' s ago';
    if (s < 3600) return Math.floor(s / 60) + ' min ago';
    return Math.floor(s / 3600) + ' h ago';
  }

  function badge(text, tone, title) {
    return el('span', { class: 'badge badge-' + tone, title: title }, text);
  }

  function cell(field, content, cls) {
    return el('td', { 'data-field': field, class: cls }, content);
  }

  function fmtPnl(v) {
    return (v < 0 ? '−$' : '$') + Math.abs(v).toLocaleString('en-US', { maximumFractionDigits: 0 });
  }

  /** A caption's text with its `backticked` keys as code. */
  function richText(text) {
    return String(text)
      .split('`')
      .map(function (part, i) {
        return i % 2 === 1 ? el('code', null, part) : part;
      });
  }

  /** A key as an id or attribute name: kill_switch → kill-switch. */
  function dashed(key) {
    return String(key).replace(/_/g, '-');
  }

  /** "FULL_CLOSE → PARTIAL_25" wraps before its arrow, never after it. */
  function arrowText(text) {
    var at = text.indexOf(' → ');
    return at < 0 ? text : [text.slice(0, at), ' ', el('span', { class: 'nowrap' }, text.slice(at + 1))];
  }

  /** Whether every field named in `when` equals the row's (no `when`: always). */
  function holds(row, when) {
    if (!when) return true;
    return Object.keys(when).every(function (key) {
      var value = row[key] === undefined ? null : row[key];
      return value === when[key];
    });
  }

  function firstCase(row, cases) {
    return cases.filter(function (c) {
      return holds(row, c.when);
    })[0];
  }

  /** A badge case drawn: muted text, or a badge with its tone and title. */
  function caseEl(found, value) {
    var text = found.text !== undefined ? found.text : String(value);
    return found.tone === 'muted' ? el('span', { class: 'muted' }, text) : badge(text, found.tone, found.title);
  }

  /** "COLD < 0.25 ≤ WARM < 0.65 ≤ HOT": the names between the edges of an object such as {min, max}. */
  function bandsText(edgesValue, bands) {
    return bands.names
      .map(function (name, i) {
        return i < bands.edges.length ? name + ' < ' + edgesValue[bands.edges[i]] + ' ≤ ' : name;
      })
      .join('');
  }

  var NUMERIC = { count: true, number: true, usd: true, dollars: true };

  /**
   * One field of a row (or of the value) as the page writes it. `wrapping`: a wrapping table's
   * cell, where a time puts its date above its time.
   */
  function fieldEl(row, field, now, inTable, wrapping) {
    var value = row[field.key];
    if (value === null || value === undefined) {
      if (field.missing !== undefined) return field.missing;
      // A table's empty cell is a plain dash; a row of label / value rows says it in grey.
      return inTable && !field.badge ? '–' : el('span', { class: 'muted' }, '–');
    }
    if (field.badge) {
      var found = firstCase(row, field.badge);
      return found ? caseEl(found, value) : String(value);
    }
    if (field.bands) return bandsText(value, field.bands);
    switch (field.format) {
      case 'count':
        return fmtCount(value);
      case 'number':
        return fmtNumber(value, field.digits === undefined ? 4 : field.digits);
      case 'usd':
        return fmtUsd(value);
      case 'dollars':
        return fmtPnl(value);
      case 'time':
        if (field.ago && value) return el('span', null, [timeEl(value), ' (' + fmtAgo(value, now) + ')']);
        return wrapping ? stackedTimeEl(value) : timeEl(value);
      case 'flag':
        return value ? badge('yes', 'warn') : badge('no', 'ok');
      case 'code':
        return el('code', null, breakable(String(value)));
      default:
        return typeof value === 'object' ? JSON.stringify(value) : arrowText(String(value));
    }
  }

  /** A field said in a sentence: plain text, as the sentence is. */
  function fieldText(row, part) {
    return el('span', null, fieldEl(row, part, Date.now(), false, false)).textContent;
  }

  // ---- The shapes (runtime/contract/status-views.ts) ----

  function fieldsView(value, view, ctx) {
    var rows = view.fields.map(function (f) {
      var name = f.name || f.key;
      return el('tr', null, [
        el('th', { scope: 'row' }, f.label),
        el('td', { id: ctx.key + '-' + dashed(name), 'data-field': name }, fieldEl(value, f, ctx.now, false, false)),
      ]);
    });
    return el('table', { class: 'kv', 'data-testid': ctx.key }, [
      view.caption ? el('caption', null, richText(view.caption)) : null,
      el('tbody', null, rows),
    ]);
  }

  function tableView(value, view, ctx) {
    var list = view.rows ? value[view.rows] : value;
    var head = el(
      'tr',
      null,
      view.columns.map(function (c) {
        return el('th', { scope: 'col', class: NUMERIC[c.format] ? 'num' : null }, c.label);
      }),
    );
    var body = el('tbody', { id: ctx.key + '-body' });
    var table = el('table', { class: view.wrap ? 'stack wrap' : 'stack', 'data-testid': ctx.key }, [
      view.caption ? el('caption', null, richText(view.caption)) : null,
      el('thead', null, head),
      body,
    ]);
    var rows = (Array.isArray(list) ? list : []).map(function (row) {
      var attrs = {};
      Object.keys(view.rowData || {}).forEach(function (attr) {
        attrs['data-' + attr] = row[view.rowData[attr]];
      });
      return el(
        'tr',
        attrs,
        view.columns.map(function (c, i) {
          var content = fieldEl(row, c, ctx.now, true, view.wrap);
          if (i === 0 && view.rowHeader) return el('th', { scope: 'row' }, content);
          var td = el('td', { 'data-field': c.name || c.key, 'data-wrap': c.wrap, class: NUMERIC[c.format] ? 'num' : null }, content);
          // The custom property is set through the CSSOM: the page's CSP allows no inline style.
          if (view.wrap && c.width) td.style.setProperty('--width', c.width + 'rem');
          return td;
        }),
      );
    });
    replaceRows(body, rows, view.columns.length, view.empty);
    return el('div', { class: 'scroll' }, table);
  }

  function sentenceView(value, view, ctx) {
    var instead = (view.unless || []).filter(function (u) {
      return holds(value, u.when);
    })[0];
    var text = instead
      ? instead.say
      : view.parts
          .map(function (part) {
            if (typeof part === 'string') return part;
            var v = value[part.key];
            if (v === null || v === undefined || (part.skipZero && v === 0)) return part.missing || '';
            return (part.before || '') + fieldText(value, part) + (part.after || '');
          })
          .join('');
    return el('p', { class: 'muted', id: ctx.key + '-summary' }, text);
  }

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

  var SHAPES = { fields: fieldsView, table: tableView, series: seriesView, sentence: sentenceView };

  function pageViews(description) {
    return description.views.filter(function (v) {
      return v.only !== 'terminal';
    });
  }

  function hasCaption(views) {
    return views.some(function (v) {
      return !!v.caption;
    });
  }

  /**
   * A section as the page draws it: its heading, what it says (its captions, or who declares it),
   * then its views. Null is a section that could not be read.
   */
  function sectionEl(description, value, ctx) {
    var key = description.key;
    var views = pageViews(description).filter(function (v) {
      return v.shape !== 'switch';
    });
    var headingId = 'h-' + key;
    var body;
    if (value === null || value === undefined)
      body = [el('p', { class: 'muted' }, 'Could not read ' + description.title + ' (see the headline).')];
    else {
      var series = 0;
      body = views.map(function (view) {
        var draw = SHAPES[view.shape];
        if (!draw) return null;
        return draw(value, view, { key: key, now: ctx.now, width: ctx.width, index: view.shape === 'series' ? series++ : 0 });
      });
    }
    return el(
      'section',
      { 'aria-labelledby': headingId, 'data-section': key, 'data-testid': 'section-' + key },
      [
        el('h2', { id: headingId }, description.title),
        hasCaption(views) ? null : el('p', { class: 'muted' }, 'Declared by ' + description.gates.join(', ')),
      ].concat(body),
    );
  }

  /** A switch row: its name and key, and the badge of its state. */
  function switchRow(description, view, value) {
    var content;
    if (value === null || value === undefined) content = badge('unknown', 'warn');
    else {
      var state = firstCase(value, view.states);
      if (!state) content = badge('unknown', 'warn');
      else if (state.note === undefined) content = caseEl(state, '');
      else {
        var note = value[state.note];
        var said =
          note === null || note === undefined || note === ''
            ? ''
            : state.noteLabel
              ? ' (' + state.noteLabel + ' "' + note + '")'
              : ' ' + note;
        content = el('span', null, [caseEl(state, ''), said]);
      }
    }
    var id = dashed(description.key);
    return el('tr', { 'data-section': description.key }, [
      el('th', { scope: 'row' }, [view.label].concat(view.code ? [' ', el('code', null, view.code)] : [])),
      el('td', { id: id, 'data-field': id }, content),
    ]);
  }

  /**
   * Draws every section of `status` from its declared views: switch rows into `switches` (before
   * its last row, the runtime's own), sections with an order into `main` in that order, the rest
   * into `more` as the server lists them.
   */
  function drawSections(descriptions, status, places) {
    var width = chartWidth(places.main);
    var ctx = { now: status.generated_at, width: width };
    var switches = [];
    descriptions.forEach(function (d) {
      pageViews(d).forEach(function (v) {
        if (v.shape === 'switch') switches.push({ d: d, v: v });
      });
    });
    var ownRow = places.switches.lastElementChild;
    places.switches.replaceChildren.apply(
      places.switches,
      switches
        .map(function (s) {
          return switchRow(s.d, s.v, status[s.d.key]);
        })
        .concat(ownRow ? [ownRow] : []),
    );
    places.switchesCaption.textContent =
      switches.length === 0
        ? 'The dead-letter stream'
        : switches
            .map(function (s) {
              return s.v.caption;
            })
            .join(', ') + ' and the dead-letter stream';

    var drawn = descriptions.filter(function (d) {
      var views = pageViews(d);
      return (
        views.length === 0 ||
        views.some(function (v) {
          return v.shape !== 'switch';
        })
      );
    });
    var ordered = drawn
      .filter(function (d) {
        return typeof d.order === 'number';
      })
      .sort(function (a, b) {
        return a.order - b.order;
      });
    var rest = drawn.filter(function (d) {
      return typeof d.order !== 'number';
    });
    places.main.replaceChildren.apply(
      places.main,
      ordered.map(function (d) {
        return sectionEl(d, status[d.key], ctx);
      }),
    );
    places.more.replaceChildren.apply(
      places.more,
      rest.map(function (d) {
        return sectionEl(d, status[d.key], ctx);
      }),
    );
    // A tip shown before the redraw shows again, now that its chart is in the page.
    [places.main, places.more].forEach(function (place) {
      Array.prototype.forEach.call(place.querySelectorAll('.hover-area'), function (overlay) {
        if (overlay.restore) overlay.restore();
      });
    });
  }

  // What app.js (the page's frame: headline, gates, polling) draws with.
  window.StatusPage = {
    $: $,
    el: el,
    badge: badge,
    cell: cell,
    replaceRows: replaceRows,
    fmtCount: fmtCount,
    fmtTime: fmtTime,
    timeEl: timeEl,
    fmtAgo: fmtAgo,
    drawSections: drawSections,
  };
})();
