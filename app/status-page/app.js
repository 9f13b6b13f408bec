// The gates status page: polls GET /status and renders it. Plain browser JavaScript, no build
// step and nothing loaded from elsewhere. Every value from Redis goes in through textContent,
// never innerHTML, because symbols, reasons and plan ids are data other services wrote.
(function () {
  'use strict';

  var POLL_MS = 2000;
  var SVG_NS = 'http://www.w3.org/2000/svg';
  var lastSuccess = null;
  /** The heat chart's point under the pointer (its time), kept across redraws. */
  var hoveredAt = null;

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
   * A chart's width in its own units: the width it is drawn at, so a 12 px label is 12 px on a
   * phone as on a desktop (a fixed 760-unit drawing scaled down to 366 px made them 5.8 px).
   */
  function chartWidth(container) {
    var width = container.clientWidth || 760;
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

  var HEADLINE_TEXT = {
    OK: 'nothing blocks trading and nothing needs attention',
    DEGRADED: 'trading goes on; something needs attention',
    BLOCKING: 'trading is held up',
  };

  function renderHeadline(status) {
    var headline = status.headline;
    var section = $('headline');
    if (!headline) {
      section.setAttribute('data-state', '');
      $('headline-state').replaceChildren(badge('unknown', 'warn'));
      $('headline-summary').textContent = 'this server does not report a headline';
      $('headline-reasons').replaceChildren();
      return;
    }
    var tone = headline.state === 'OK' ? 'ok' : headline.state === 'DEGRADED' ? 'warn' : 'bad';
    section.setAttribute('data-state', headline.state);
    $('headline-state').replaceChildren(badge(headline.state, tone));
    $('headline-summary').textContent = HEADLINE_TEXT[headline.state] || '';
    $('headline-reasons').replaceChildren.apply(
      $('headline-reasons'),
      headline.reasons.map(function (r) {
        return el('li', { 'data-state': r.state }, [
          // A NOTE (a calibration warning) is something to know, not an alarm.
          badge(r.state, r.state === 'BLOCKING' ? 'bad' : r.state === 'NOTE' ? 'info' : 'warn'),
          ' ' + r.text,
          r.since ? el('span', { class: 'since' }, [' since ', timeEl(r.since)]) : null,
        ]);
      }),
    );
  }

  function renderInstance(status) {
    var build = status.build;
    $('build-version').textContent = build
      ? 'version ' + build.version + (build.commit ? ' (' + build.commit + ')' : '')
      : 'version unknown';
    var inst = status.instance;
    $('instance-name').textContent = inst ? inst.name + ' on ' + inst.hostname + ':' + inst.port : 'unknown';
  }

  function renderSwitches(status) {
    var kill = status.kill_switch;
    $('kill-switch').replaceChildren(
      kill === null
        ? badge('unknown', 'warn')
        : kill.active
          ? badge('ACTIVE: every plan is blocked', 'bad')
          : el('span', null, [badge('off', 'ok'), kill.value !== null ? ' (value "' + kill.value + '")' : '']),
    );
    var disarm = status.disarm;
    $('disarm').replaceChildren(
      disarm === null
        ? badge('unknown', 'warn')
        : disarm.active
          ? el('span', null, [badge('TRIPPED: opens are blocked', 'bad'), disarm.detail ? ' ' + disarm.detail : ''])
          : badge('clear', 'ok'),
    );
    var dlq = status.dead_letter;
    $('dead-letter').replaceChildren(
      dlq === null
        ? badge('unknown', 'warn')
        : el('span', null, [
            dlq.length > 0 ? badge(fmtCount(dlq.length) + (dlq.length === 1 ? ' entry' : ' entries'), 'warn') : badge('empty', 'ok'),
            ' ',
            el('code', null, dlq.stream),
          ]),
    );
  }

  function modeBadge(mode) {
    // Enforce is a normal state, not an alarm: calm, but told apart from shadow.
    if (mode === 'enforce') return badge('enforce', 'ok', 'Decisions are applied');
    if (mode === 'shadow') return badge('shadow', 'info', 'Decisions are recorded only');
    return el('span', { class: 'muted' }, 'n/a');
  }

  function renderGates(status) {
    var rows = status.gates.map(function (g) {
      return el('tr', { 'data-gate': g.name }, [
        el('th', { scope: 'row', title: g.description }, g.name),
        cell('mode', modeBadge(g.mode)),
        cell('consuming', g.consuming ? badge('yes', 'ok') : badge('no', 'bad', 'Not consuming: nothing is decided for this gate')),
        cell('processed', fmtCount(g.processed), 'num'),
        cell('failed', fmtCount(g.failed), g.failed > 0 ? 'num warn-text' : 'num'),
        cell('dead-lettered', fmtCount(g.dead_lettered), g.dead_lettered > 0 ? 'num warn-text' : 'num'),
        cell('retries', fmtCount(g.retries), 'num'),
        cell('pending', fmtCount(g.pending), 'num'),
        cell('lag', fmtCount(g.lag), 'num'),
        cell('source', el('code', null, g.source + (g.group ? ' → ' + g.group : ''))),
      ]);
    });
    replaceRows($('gates-body'), rows, 10, 'No gates hosted by this process.');
  }

  /** Heat is the market's state, which the heat gate acts on: never an alarm for the operator. */
  function bucketBadge(bucket) {
    if (!bucket) return el('span', { class: 'muted' }, '–');
    var tone = bucket === 'HOT' ? 'stop' : bucket === 'WARM' ? 'info' : 'neutral';
    return badge(bucket, tone);
  }

  function renderHeat(status, now) {
    var heat = status.heat;
    $('heat-value').textContent = heat && heat.value !== null ? fmtNumber(heat.value, 4) : '–';
    $('heat-bucket').replaceChildren(bucketBadge(heat && heat.bucket));
    $('heat-updated').replaceChildren(
      heat && heat.updated_at ? el('span', null, [timeEl(heat.updated_at), ' (' + fmtAgo(heat.updated_at, now) + ')']) : 'never',
    );
    $('heat-thresholds').textContent =
      heat && heat.thresholds
        ? 'COLD < ' + heat.thresholds.min + ' ≤ WARM < ' + heat.thresholds.max + ' ≤ HOT'
        : 'not known here (the heat gate is not hosted by this process)';
    renderChart($('heat-chart'), heat ? heat.history : [], heat ? heat.thresholds : null);
  }

  function renderChart(container, points, thresholds) {
    var W = chartWidth(container);
    var H = 240;
    var M = { top: 14, right: 64, bottom: 34, left: 52 };
    var iw = W - M.left - M.right;
    var ih = H - M.top - M.bottom;
    if (!points || points.length === 0) {
      container.replaceChildren(el('p', { class: 'muted' }, 'No heat-gate decisions yet.'));
      return;
    }
    var maxHeat = points.reduce(function (m, p) {
      return Math.max(m, p.heat);
    }, 0);
    var top = Math.max(maxHeat, thresholds ? thresholds.max : 0) * 1.15;
    if (!(top > 0)) top = 1;
    var t0 = points[0].at;
    var t1 = points[points.length - 1].at;
    var span = t1 - t0 || 1;
    function x(p, i) {
      return M.left + (points.length === 1 ? iw / 2 : t1 === t0 ? (i / (points.length - 1)) * iw : ((p.at - t0) / span) * iw);
    }
    function y(v) {
      return M.top + ih - (Math.min(v, top) / top) * ih;
    }
    var last = points[points.length - 1];
    var minHeat = points.reduce(function (m, p) {
      return Math.min(m, p.heat);
    }, Infinity);
    var description =
      points.length +
      ' decisions from ' +
      fmtTime(t0) +
      ' to ' +
      fmtTime(t1) +
      '; latest heat ' +
      fmtNumber(last.heat, 4) +
      (last.bucket ? ' (' + last.bucket + ')' : '') +
      '; lowest ' +
      fmtNumber(minHeat, 4) +
      ', highest ' +
      fmtNumber(maxHeat, 4) +
      '.';

    var children = [
      svg('title', { id: 'heat-chart-title' }, 'Portfolio heat history'),
      svg('desc', { id: 'heat-chart-desc' }, description),
    ];
    if (thresholds) {
      var bands = [
        { from: 0, to: thresholds.min, cls: 'band-cold', label: 'COLD' },
        { from: thresholds.min, to: thresholds.max, cls: 'band-warm', label: 'WARM' },
        { from: thresholds.max, to: top, cls: 'band-hot', label: 'HOT' },
      ];
      bands.forEach(function (b) {
        if (b.from >= top) return;
        var yTop = y(Math.min(b.to, top));
        var yBottom = y(b.from);
        children.push(svg('rect', { x: M.left, y: yTop, width: iw, height: Math.max(0, yBottom - yTop), class: b.cls }));
        children.push(svg('text', { x: M.left + iw + 6, y: (yTop + yBottom) / 2 + 4, class: 'band-label' }, b.label));
      });
      [thresholds.min, thresholds.max].forEach(function (v) {
        if (v > top) return;
        children.push(svg('line', { x1: M.left, x2: M.left + iw, y1: y(v), y2: y(v), class: 'threshold' }));
      });
    }
    var ticks = [0, top / 2, top];
    if (thresholds)
      ticks = [0, thresholds.min, thresholds.max, top].filter(function (v) {
        return v <= top;
      });
    ticks.forEach(function (v) {
      children.push(svg('text', { x: M.left - 6, y: y(v) + 4, class: 'axis-label', 'text-anchor': 'end' }, fmtNumber(v, 2)));
    });
    children.push(svg('line', { x1: M.left, x2: M.left, y1: M.top, y2: M.top + ih, class: 'axis' }));
    children.push(svg('line', { x1: M.left, x2: M.left + iw, y1: M.top + ih, y2: M.top + ih, class: 'axis' }));
    var times = axisTimes(t0, t1, W);
    children.push(svg('text', { x: M.left, y: H - 10, class: 'axis-label' }, times[0]));
    children.push(svg('text', { x: M.left + iw, y: H - 10, class: 'axis-label', 'text-anchor': 'end' }, times[1]));
    // The heat holds from one decision to the next: a step line, not a slope between them.
    var path = points
      .map(function (p, i) {
        var px = x(p, i).toFixed(1);
        var py = y(p.heat).toFixed(1);
        return i === 0 ? 'M' + px + ',' + py : 'H' + px + 'V' + py;
      })
      .join('');
    children.push(svg('path', { class: 'heat-line', d: path }));
    // Anywhere over the plot shows the nearest decision (a finger cannot aim at a dot).
    var overlay = svg('rect', { x: M.left, y: M.top, width: iw, height: ih, class: 'hover-area' });
    children.push(overlay);
    var coords = points.map(function (p, i) {
      return { p: p, cx: x(p, i), cy: y(p.heat) };
    });
    points.forEach(function (p, i) {
      var label = fmtNumber(p.heat, 4) + (p.bucket ? ' ' + p.bucket : '') + ' at ' + fmtTime(p.at);
      var point = svg('g', { class: 'heat-point', tabindex: 0, 'data-at': p.at, 'aria-label': 'heat ' + label }, [
        svg('title', null, 'heat ' + label),
        svg('circle', { cx: coords[i].cx, cy: coords[i].cy, r: i === points.length - 1 ? 4.5 : 2.5, class: 'heat-dot' }),
        svg('circle', { cx: coords[i].cx, cy: coords[i].cy, r: 10, class: 'heat-hit' }),
      ]);
      point.addEventListener('mouseenter', function () {
        showTip(coords[i]);
      });
      point.addEventListener('focus', function () {
        showTip(coords[i]);
      });
      point.addEventListener('mouseleave', hideTip);
      point.addEventListener('blur', hideTip);
      children.push(point);
    });
    var tipText = svg('text', { class: 'tip-text', x: 8, y: 17 });
    var tipBox = svg('rect', { class: 'tip-box', rx: 4, height: 24 });
    var tip = svg('g', { class: 'chart-tip', 'data-testid': 'heat-tip', visibility: 'hidden', 'aria-hidden': 'true' }, [tipBox, tipText]);
    children.push(tip);
    overlay.addEventListener('pointermove', function (event) {
      var box = overlay.ownerSVGElement.getBoundingClientRect();
      var vx = ((event.clientX - box.left) / box.width) * W;
      var nearest = coords.reduce(function (best, c) {
        return Math.abs(c.cx - vx) < Math.abs(best.cx - vx) ? c : best;
      }, coords[0]);
      showTip(nearest);
    });
    overlay.addEventListener('pointerleave', hideTip);

    function showTip(c) {
      hoveredAt = c.p.at;
      tipText.textContent = 'heat ' + fmtNumber(c.p.heat, 4) + (c.p.bucket ? ' ' + c.p.bucket : '') + ' · ' + fmtTime(c.p.at);
      tip.setAttribute('visibility', 'visible');
      var width = tipText.getComputedTextLength() + 16;
      tipBox.setAttribute('width', width.toFixed(1));
      var tx = Math.max(0, Math.min(W - width, c.cx - width / 2));
      var ty = c.cy - 34 < 0 ? c.cy + 12 : c.cy - 34;
      tip.setAttribute('transform', 'translate(' + tx.toFixed(1) + ',' + ty.toFixed(1) + ')');
    }
    function hideTip() {
      hoveredAt = null;
      tip.setAttribute('visibility', 'hidden');
    }

    container.replaceChildren(
      svg(
        'svg',
        { viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-labelledby': 'heat-chart-title heat-chart-desc', class: 'chart-svg' },
        children,
      ),
    );
    // The chart is redrawn every poll: keep showing the point the reader is looking at.
    var still =
      hoveredAt === null
        ? null
        : coords.filter(function (c) {
            return c.p.at === hoveredAt;
          })[0];
    if (still) showTip(still);
    else hoveredAt = null;
  }

  function renderBudgets(status, now) {
    if (status.budgets === null) {
      replaceRows($('budgets-body'), [], 7, 'Could not read budgets (see the banner).');
      return;
    }
    var rows = status.budgets.map(function (b) {
      var within =
        b.budget_usd === null
          ? el('span', { class: 'muted' }, 'no budget')
          : b.over_budget
            ? badge(
                'OVER budget',
                'warn',
                b.mode === 'enforce' ? 'The governor blocks opens of this symbol' : 'Shadow: the governor only logs it',
              )
            : badge('yes', 'ok');
      return el('tr', { 'data-symbol': b.symbol }, [
        el('th', { scope: 'row' }, b.symbol),
        cell('budget', fmtUsd(b.budget_usd), 'num'),
        cell('stress', fmtNumber(b.stress_factor, 3), 'num'),
        cell('notional', fmtUsd(b.position_notional_usd), 'num'),
        cell('within', within),
        cell('mode', b.mode || '–'),
        cell('computed', b.computed_at ? el('span', null, [timeEl(b.computed_at), ' (' + fmtAgo(b.computed_at, now) + ')']) : '–'),
      ]);
    });
    replaceRows($('budgets-body'), rows, 7, 'No budgets and no open positions.');
  }

  /** A block or a downgrade is a gate doing its job: told apart by colour, but none is an alarm. */
  function decisionBadge(kind) {
    if (kind === 'block') return badge('BLOCK', 'stop', 'The governor refused the plan');
    if (kind === 'permit') return badge('PERMIT', 'ok');
    if (kind === 'downgrade') return badge('DOWNGRADE', 'info', 'The heat gate calibrated the proposal down');
    if (kind === 'kept') return badge('KEPT', 'neutral', 'The proposal passes unchanged');
    return badge('event', 'neutral');
  }

  /** "FULL_CLOSE → PARTIAL_25" wraps before its arrow, never after it. */
  function actionText(action) {
    var at = action.indexOf(' → ');
    return at < 0 ? action : [action.slice(0, at), ' ', el('span', { class: 'nowrap' }, action.slice(at + 1))];
  }

  function renderDecisions(status) {
    if (status.decisions === null) {
      replaceRows($('decisions-body'), [], 9, 'Could not read decisions (see the banner).');
      return;
    }
    var rows = status.decisions.map(function (d) {
      return el('tr', { 'data-decision': d.kind, 'data-id': d.id }, [
        cell('time', stackedTimeEl(d.at)),
        cell('gate', d.gate),
        cell('decision', decisionBadge(d.kind)),
        cell('symbol', d.symbol || '–'),
        cell('plan', d.plan_id ? el('code', null, d.plan_id) : '–'),
        cell('action', d.action ? actionText(d.action) : '–'),
        cell('reason', d.reason ? el('code', null, breakable(d.reason)) : '–'),
        cell('detail', d.detail || '–'),
        cell('mode', d.mode || '–'),
      ]);
    });
    replaceRows($('decisions-body'), rows, 9, 'No heat-gate decisions, permits or blocks yet.');
  }

  function showBanner(text) {
    var banner = $('banner');
    if (!text) {
      banner.hidden = true;
      banner.textContent = '';
      return;
    }
    banner.hidden = false;
    banner.textContent = text;
  }

  function fmtPnl(v) {
    return (v < 0 ? '−$' : '$') + Math.abs(v).toLocaleString('en-US', { maximumFractionDigits: 0 });
  }

  /** Cumulative counterfactual PnL as a step line: each decision's sample moves it at its time. */
  function renderOutcomes(status) {
    var o = status.outcomes;
    var container = $('outcomes-chart');
    if (!o || o.horizon === null) {
      $('outcomes-summary').textContent =
        o === null ? 'Could not read outcomes (see the banner).' : 'No outcome samples yet (docs/outcomes.md).';
      container.replaceChildren();
      return;
    }
    $('outcomes-summary').textContent =
      o.samples +
      ' decisions at ' +
      o.horizon +
      ': against their proposals they changed PnL by ' +
      fmtPnl(o.total_pnl_usd) +
      (o.missing_price ? ' (' + o.missing_price + ' without a price left out)' : '') +
      '. quantum-gates report outcomes has the intervals.';
    var points = o.series;
    if (points.length === 0) {
      container.replaceChildren();
      return;
    }
    var W = chartWidth(container),
      H = 200,
      M = { top: 12, right: 16, bottom: 30, left: 70 };
    var iw = W - M.left - M.right,
      ih = H - M.top - M.bottom;
    var lo = Math.min(
      0,
      Math.min.apply(
        null,
        points.map(function (p) {
          return p.cumulative_usd;
        }),
      ),
    );
    var hi = Math.max(
      0,
      Math.max.apply(
        null,
        points.map(function (p) {
          return p.cumulative_usd;
        }),
      ),
    );
    if (hi === lo) hi = lo + 1;
    var t0 = points[0].at,
      t1 = points[points.length - 1].at,
      span = t1 - t0 || 1;
    function x(t) {
      return M.left + (points.length === 1 ? iw / 2 : ((t - t0) / span) * iw);
    }
    function y(v) {
      return M.top + ih - ((v - lo) / (hi - lo)) * ih;
    }
    var path = [];
    var previous = 0;
    points.forEach(function (p) {
      path.push(x(p.at).toFixed(1) + ',' + y(previous).toFixed(1));
      path.push(x(p.at).toFixed(1) + ',' + y(p.cumulative_usd).toFixed(1));
      previous = p.cumulative_usd;
    });
    var children = [
      svg('title', { id: 'outcomes-chart-title' }, 'Cumulative counterfactual PnL at ' + o.horizon),
      svg('line', { x1: M.left, x2: M.left + iw, y1: y(0), y2: y(0), class: 'threshold' }),
      svg('text', { x: M.left - 6, y: y(hi) + 4, class: 'axis-label', 'text-anchor': 'end' }, fmtPnl(hi)),
      svg('text', { x: M.left - 6, y: y(lo) + 4, class: 'axis-label', 'text-anchor': 'end' }, fmtPnl(lo)),
      svg('text', { x: M.left, y: H - 8, class: 'axis-label' }, axisTimes(t0, t1, W)[0]),
      svg('text', { x: M.left + iw, y: H - 8, class: 'axis-label', 'text-anchor': 'end' }, axisTimes(t0, t1, W)[1]),
      svg('polyline', { class: 'heat-line', points: path.join(' ') }),
    ];
    points.forEach(function (p) {
      children.push(
        svg(
          'circle',
          { cx: x(p.at), cy: y(p.cumulative_usd), r: 2.5, class: 'heat-dot' },
          svg('title', {}, fmtTime(p.at) + ': ' + fmtPnl(p.cumulative_usd)),
        ),
      );
    });
    container.replaceChildren(
      svg('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-labelledby': 'outcomes-chart-title', class: 'chart-svg' }, children),
    );
  }

  // ---- Gates' own sections, drawn from the shapes they declare (GET /status/sections) ----

  /**
   * The sections this page lays out by hand above (richer than the generic shapes: the heat
   * chart's bands, the switches table). Every other section a gate declares is drawn here from
   * its declared views, so a new gate's section appears without a change to this page.
   */
  var HAND_DRAWN = { heat: true, budgets: true, kill_switch: true, disarm: true, decisions: true, outcomes: true };
  /** GET /status/sections, once it has answered. */
  var sectionViews = null;

  function loadSections() {
    // From the origin: a page opened as http://user:pass@host/ cannot fetch a relative URL.
    return fetch(new URL('/status/sections', location.origin), {
      cache: 'no-store',
      credentials: 'same-origin',
      headers: { accept: 'application/json' },
    })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (sections) {
        if (Array.isArray(sections)) sectionViews = sections;
      })
      .catch(function () {
        // Tried again at the next poll.
      });
  }

  function fmtValue(value, field) {
    if (value === null || value === undefined) return el('span', { class: 'muted' }, '–');
    switch (field.format) {
      case 'count':
        return fmtCount(value);
      case 'number':
        return fmtNumber(value, field.digits === undefined ? 4 : field.digits);
      case 'usd':
        return fmtUsd(value);
      case 'time':
        return timeEl(value);
      case 'flag':
        return value ? badge('yes', 'warn') : badge('no', 'ok');
      case 'code':
        return el('code', null, String(value));
      default:
        return typeof value === 'object' ? JSON.stringify(value) : String(value);
    }
  }

  function fieldsView(value, view) {
    return el(
      'table',
      { class: 'kv' },
      el(
        'tbody',
        null,
        view.fields.map(function (f) {
          return el('tr', null, [el('th', { scope: 'row' }, f.label), cell(f.key, fmtValue(value[f.key], f))]);
        }),
      ),
    );
  }

  function tableView(value, view) {
    var rows = view.rows ? value[view.rows] : value;
    var body = el('tbody');
    replaceRows(
      body,
      (Array.isArray(rows) ? rows : []).map(function (row) {
        return el(
          'tr',
          null,
          view.columns.map(function (c) {
            return cell(c.key, fmtValue(row[c.key], c));
          }),
        );
      }),
      view.columns.length,
      view.empty,
    );
    var head = el(
      'tr',
      null,
      view.columns.map(function (c) {
        return el('th', { scope: 'col' }, c.label);
      }),
    );
    return el('div', { class: 'scroll' }, el('table', null, [el('thead', null, head), body]));
  }

  function seriesView(value, view) {
    var points = (Array.isArray(value[view.points]) ? value[view.points] : []).filter(function (p) {
      return typeof p[view.x] === 'number' && typeof p[view.y] === 'number';
    });
    if (points.length === 0) return el('p', { class: 'muted' }, 'No points yet.');
    var W = chartWidth($('gate-sections')),
      H = 200,
      M = { top: 12, right: 16, bottom: 30, left: 70 };
    var iw = W - M.left - M.right,
      ih = H - M.top - M.bottom;
    var ys = points.map(function (p) {
      return p[view.y];
    });
    var lo = Math.min.apply(null, ys),
      hi = Math.max.apply(null, ys);
    if (hi === lo) hi = lo + 1;
    var t0 = points[0][view.x],
      span = points[points.length - 1][view.x] - t0 || 1;
    var coords = points.map(function (p) {
      var x = M.left + (points.length === 1 ? iw / 2 : ((p[view.x] - t0) / span) * iw);
      var y = M.top + ih - ((p[view.y] - lo) / (hi - lo)) * ih;
      return x.toFixed(1) + ',' + y.toFixed(1);
    });
    return el(
      'figure',
      { class: 'chart' },
      svg('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': view.label, class: 'chart-svg' }, [
        svg('title', null, view.label),
        svg('text', { x: M.left - 6, y: M.top + 4, class: 'axis-label', 'text-anchor': 'end' }, fmtNumber(hi, 2)),
        svg('text', { x: M.left - 6, y: M.top + ih + 4, class: 'axis-label', 'text-anchor': 'end' }, fmtNumber(lo, 2)),
        svg('text', { x: M.left, y: H - 8, class: 'axis-label' }, fmtTime(t0)),
        svg('polyline', { class: 'heat-line', points: coords.join(' ') }),
      ]),
    );
  }

  var VIEWS = { fields: fieldsView, table: tableView, series: seriesView };

  function renderGateSections(status) {
    var container = $('gate-sections');
    if (sectionViews === null) return;
    container.replaceChildren.apply(
      container,
      sectionViews
        .filter(function (s) {
          return !HAND_DRAWN[s.key];
        })
        .map(function (s) {
          var value = status[s.key];
          var headingId = 'h-section-' + s.key;
          var body =
            value === null || value === undefined
              ? [el('p', { class: 'muted' }, 'Could not read ' + s.title + ' (see the headline).')]
              : s.views.map(function (view) {
                  var draw = VIEWS[view.shape];
                  return draw ? draw(value, view) : null;
                });
          return el(
            'section',
            { 'aria-labelledby': headingId, 'data-section': s.key, 'data-testid': 'section-' + s.key },
            [el('h2', { id: headingId }, s.title), el('p', { class: 'muted' }, 'Declared by ' + s.gates.join(', '))].concat(body),
          );
        }),
    );
  }

  function render(status) {
    var now = status.generated_at;
    renderHeadline(status);
    renderInstance(status);
    renderOutcomes(status);
    renderSwitches(status);
    renderGates(status);
    renderHeat(status, now);
    renderBudgets(status, now);
    renderDecisions(status);
    renderGateSections(status);
    // Sections that could not be read are reasons in the headline (one line per cause); an older
    // server without a headline still gets them here.
    showBanner(!status.headline && status.errors.length ? 'Some sections could not be read: ' + status.errors.join('; ') : '');
  }

  function tickClock() {
    var ago = $('updated-ago');
    ago.textContent = lastSuccess === null ? '' : '(' + fmtAgo(lastSuccess, Date.now()) + ')';
    document.body.classList.toggle('stale', lastSuccess !== null && Date.now() - lastSuccess > 3 * POLL_MS + 1000);
  }

  function poll() {
    if (sectionViews === null) loadSections();
    fetch(new URL('/status', location.origin), { cache: 'no-store', credentials: 'same-origin', headers: { accept: 'application/json' } })
      .then(function (response) {
        if (response.status === 401) throw new Error('not signed in: reload the page to enter the dashboard credentials');
        if (!response.ok) throw new Error('GET /status answered HTTP ' + response.status);
        return response.json();
      })
      .then(function (status) {
        render(status);
        lastSuccess = Date.now();
        var stamp = $('last-updated');
        stamp.textContent = fmtTime(lastSuccess);
        stamp.setAttribute('datetime', new Date(lastSuccess).toISOString());
        tickClock();
      })
      .catch(function (error) {
        showBanner('Could not refresh: ' + error.message + (lastSuccess ? '. Showing data from ' + fmtTime(lastSuccess) + '.' : '.'));
      })
      .finally(function () {
        setTimeout(poll, POLL_MS);
      });
  }

  document.addEventListener('DOMContentLoaded', function () {
    setInterval(tickClock, 1000);
    poll();
  });
})();
