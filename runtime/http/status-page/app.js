// The gates status page: polls GET /status and renders it. Plain browser JavaScript, no build
// step and nothing loaded from elsewhere. Every value from Redis goes in through textContent,
// never innerHTML, because symbols, reasons and plan ids are data other services wrote.
(function () {
  'use strict';

  var POLL_MS = 2000;
  var SVG_NS = 'http://www.w3.org/2000/svg';
  var lastSuccess = null;

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
    rows.forEach(function (row) {
      tbody.appendChild(row);
    });
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

  function fmtTime(ms) {
    if (ms === null || ms === undefined || !isFinite(ms)) return '–';
    var d = new Date(ms);
    return pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
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
    if (mode === 'enforce') return badge('enforce', 'bad', 'Decisions are applied');
    if (mode === 'shadow') return badge('shadow', 'info', 'Decisions are recorded only');
    return el('span', { class: 'muted' }, 'n/a');
  }

  function renderGates(status) {
    var rows = status.gates.map(function (g) {
      return el('tr', { 'data-gate': g.name }, [
        el('th', { scope: 'row', title: g.description }, g.name),
        cell('mode', modeBadge(g.mode)),
        cell('consuming', g.consuming ? badge('yes', 'ok') : badge('no', 'bad')),
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

  function bucketBadge(bucket) {
    if (!bucket) return el('span', { class: 'muted' }, '–');
    var tone = bucket === 'HOT' ? 'bad' : bucket === 'WARM' ? 'warn' : 'info';
    return badge(bucket, tone);
  }

  function renderHeat(status, now) {
    var heat = status.heat;
    $('heat-value').textContent = heat && heat.value !== null ? fmtNumber(heat.value, 4) : '–';
    $('heat-bucket').replaceChildren(bucketBadge(heat && heat.bucket));
    $('heat-updated').textContent = heat && heat.updated_at ? fmtTime(heat.updated_at) + ' (' + fmtAgo(heat.updated_at, now) + ')' : 'never';
    $('heat-thresholds').textContent =
      heat && heat.thresholds
        ? 'COLD < ' + heat.thresholds.min + ' ≤ WARM < ' + heat.thresholds.max + ' ≤ HOT'
        : 'not known here (the heat gate is not hosted by this process)';
    renderChart($('heat-chart'), heat ? heat.history : [], heat ? heat.thresholds : null);
  }

  function renderChart(container, points, thresholds) {
    var W = 760;
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
      points.length + ' decisions from ' + fmtTime(t0) + ' to ' + fmtTime(t1) + '; latest heat ' + fmtNumber(last.heat, 4) +
      (last.bucket ? ' (' + last.bucket + ')' : '') + '; lowest ' + fmtNumber(minHeat, 4) + ', highest ' + fmtNumber(maxHeat, 4) + '.';

    var children = [svg('title', { id: 'heat-chart-title' }, 'Portfolio heat history'), svg('desc', { id: 'heat-chart-desc' }, description)];
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
    if (thresholds) ticks = [0, thresholds.min, thresholds.max, top].filter(function (v) {
      return v <= top;
    });
    ticks.forEach(function (v) {
      children.push(svg('text', { x: M.left - 6, y: y(v) + 4, class: 'axis-label', 'text-anchor': 'end' }, fmtNumber(v, 2)));
    });
    children.push(svg('line', { x1: M.left, x2: M.left, y1: M.top, y2: M.top + ih, class: 'axis' }));
    children.push(svg('line', { x1: M.left, x2: M.left + iw, y1: M.top + ih, y2: M.top + ih, class: 'axis' }));
    children.push(svg('text', { x: M.left, y: H - 10, class: 'axis-label' }, fmtTime(t0)));
    children.push(svg('text', { x: M.left + iw, y: H - 10, class: 'axis-label', 'text-anchor': 'end' }, fmtTime(t1)));
    children.push(
      svg('polyline', {
        class: 'heat-line',
        points: points
          .map(function (p, i) {
            return x(p, i).toFixed(1) + ',' + y(p.heat).toFixed(1);
          })
          .join(' '),
      }),
    );
    // A dot per decision: the line between two is drawn, not observed.
    points.forEach(function (p, i) {
      children.push(svg('circle', { cx: x(p, i), cy: y(p.heat), r: i === points.length - 1 ? 4.5 : 2.5, class: 'heat-dot' }));
    });

    container.replaceChildren(
      svg('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-labelledby': 'heat-chart-title heat-chart-desc', class: 'chart-svg' }, children),
    );
  }

  function renderBudgets(status, now) {
    if (status.budgets === null) {
      replaceRows($('budgets-body'), [], 7, 'Could not read budgets (see the banner).');
      return;
    }
    var rows = status.budgets.map(function (b) {
      var within =
        b.budget_usd === null ? el('span', { class: 'muted' }, 'no budget') : b.over_budget ? badge('OVER budget', 'bad') : badge('yes', 'ok');
      return el('tr', { 'data-symbol': b.symbol }, [
        el('th', { scope: 'row' }, b.symbol),
        cell('budget', fmtUsd(b.budget_usd), 'num'),
        cell('stress', fmtNumber(b.stress_factor, 3), 'num'),
        cell('notional', fmtUsd(b.position_notional_usd), 'num'),
        cell('within', within),
        cell('mode', b.mode || '–'),
        cell('computed', b.computed_at ? fmtTime(b.computed_at) + ' (' + fmtAgo(b.computed_at, now) + ')' : '–'),
      ]);
    });
    replaceRows($('budgets-body'), rows, 7, 'No open positions.');
  }

  function decisionBadge(kind) {
    if (kind === 'block') return badge('BLOCK', 'bad');
    if (kind === 'permit') return badge('PERMIT', 'ok');
    if (kind === 'downgrade') return badge('DOWNGRADE', 'warn');
    return badge('event', 'info');
  }

  function renderDecisions(status) {
    if (status.decisions === null) {
      replaceRows($('decisions-body'), [], 9, 'Could not read decisions (see the banner).');
      return;
    }
    var rows = status.decisions.map(function (d) {
      return el('tr', { 'data-decision': d.kind, 'data-id': d.id }, [
        cell('time', el('time', { datetime: new Date(d.at).toISOString() }, fmtTime(d.at))),
        cell('gate', d.gate),
        cell('decision', decisionBadge(d.kind)),
        cell('symbol', d.symbol || '–'),
        cell('plan', d.plan_id ? el('code', null, d.plan_id) : '–'),
        cell('action', d.action || '–'),
        cell('reason', d.reason ? el('code', null, d.reason) : '–'),
        cell('detail', d.detail || '–'),
        cell('mode', d.mode || '–'),
      ]);
    });
    replaceRows($('decisions-body'), rows, 9, 'No downgrades, permits or blocks yet.');
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

  // A second fmtUsd here once replaced the budget table's (function declarations hoist).
  function fmtSignedUsd(v) {
    return (v < 0 ? '−$' : '$') + Math.abs(v).toLocaleString('en-US', { maximumFractionDigits: 0 });
  }

  /** Cumulative counterfactual PnL as a step line: each decision's sample moves it at its time. */
  function renderOutcomes(status) {
    var o = status.outcomes;
    var container = $('outcomes-chart');
    if (!o || o.horizon === null) {
      $('outcomes-summary').textContent = o === null ? 'Could not read outcomes (see the banner).' : 'No outcome samples yet (docs/outcomes.md).';
      container.replaceChildren();
      return;
    }
    $('outcomes-summary').textContent =
      o.samples + ' decisions at ' + o.horizon + ': against their proposals they changed PnL by ' + fmtSignedUsd(o.total_pnl_usd) +
      (o.missing_price ? ' (' + o.missing_price + ' without a price left out)' : '') + '. quantum-gates report outcomes has the intervals.';
    var points = o.series;
    if (points.length === 0) {
      container.replaceChildren();
      return;
    }
    var W = 760, H = 200, M = { top: 12, right: 16, bottom: 30, left: 70 };
    var iw = W - M.left - M.right, ih = H - M.top - M.bottom;
    var lo = Math.min(0, Math.min.apply(null, points.map(function (p) { return p.cumulative_usd; })));
    var hi = Math.max(0, Math.max.apply(null, points.map(function (p) { return p.cumulative_usd; })));
    if (hi === lo) hi = lo + 1;
    var t0 = points[0].at, t1 = points[points.length - 1].at, span = t1 - t0 || 1;
    function x(t) { return M.left + (points.length === 1 ? iw / 2 : ((t - t0) / span) * iw); }
    function y(v) { return M.top + ih - ((v - lo) / (hi - lo)) * ih; }
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
      svg('text', { x: M.left - 6, y: y(hi) + 4, class: 'axis-label', 'text-anchor': 'end' }, fmtSignedUsd(hi)),
      svg('text', { x: M.left - 6, y: y(lo) + 4, class: 'axis-label', 'text-anchor': 'end' }, fmtSignedUsd(lo)),
      svg('text', { x: M.left, y: H - 8, class: 'axis-label' }, fmtTime(t0)),
      svg('text', { x: M.left + iw, y: H - 8, class: 'axis-label', 'text-anchor': 'end' }, fmtTime(t1)),
      svg('polyline', { class: 'heat-line', points: path.join(' ') }),
    ];
    points.forEach(function (p) {
      children.push(svg('circle', { cx: x(p.at), cy: y(p.cumulative_usd), r: 2.5, class: 'heat-dot' }, svg('title', {}, fmtTime(p.at) + ': ' + fmtSignedUsd(p.cumulative_usd))));
    });
    container.replaceChildren(svg('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-labelledby': 'outcomes-chart-title', class: 'chart-svg' }, children));
  }

  function render(status) {
    var now = status.generated_at;
    renderOutcomes(status);
    renderSwitches(status);
    renderGates(status);
    renderHeat(status, now);
    renderBudgets(status, now);
    renderDecisions(status);
    var problems = status.errors.slice();
    if (!status.redis_ready) problems.unshift('Redis is not reachable from the gates process');
    showBanner(problems.length ? 'Some sections could not be read: ' + problems.join('; ') : '');
  }

  function tickClock() {
    var ago = $('updated-ago');
    ago.textContent = lastSuccess === null ? '' : '(' + fmtAgo(lastSuccess, Date.now()) + ')';
    document.body.classList.toggle('stale', lastSuccess !== null && Date.now() - lastSuccess > 3 * POLL_MS + 1000);
  }

  function poll() {
    fetch('/status', { cache: 'no-store', credentials: 'same-origin', headers: { accept: 'application/json' } })
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
        showBanner(
          'Could not refresh: ' + error.message + (lastSuccess ? '. Showing data from ' + fmtTime(lastSuccess) + '.' : '.'),
        );
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
