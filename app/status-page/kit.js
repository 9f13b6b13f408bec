// The status page's kit: building elements and writing values (numbers, money, times with their
// zone), shared by app.js, chart.js and views.js. Plain browser JavaScript, no build step and
// nothing loaded from elsewhere. Every value from Redis goes in through textContent, never
// innerHTML, because symbols, reasons and plan ids are data other services wrote.
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
   * A code with a break opportunity after each underscore, colon and dot, so a long reason or a
   * stream name (quantum:stream:harvest.proposal) wraps between its words instead of widening its
   * column past the screen or being cut.
   */
  function breakable(text) {
    var parts = String(text).split(/(?<=[_:.])/);
    var nodes = [];
    parts.forEach(function (part, i) {
      nodes.push(part);
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

  window.StatusPage = {
    $: $,
    el: el,
    svg: svg,
    append: append,
    replaceRows: replaceRows,
    breakable: breakable,
    fmtCount: fmtCount,
    fmtNumber: fmtNumber,
    fmtUsd: fmtUsd,
    fmtPnl: fmtPnl,
    fmtTime: fmtTime,
    fmtAgo: fmtAgo,
    chartWidth: chartWidth,
    axisTimes: axisTimes,
    stackedTimeEl: stackedTimeEl,
    timeEl: timeEl,
    badge: badge,
    cell: cell,
    richText: richText,
    dashed: dashed,
    arrowText: arrowText,
  };
})();
