// The gates status page: polls GET /status and renders it. Plain browser JavaScript, no build
// step and nothing loaded from elsewhere. Every value from Redis goes in through textContent,
// never innerHTML, because symbols, reasons and plan ids are data other services wrote. This file
// draws the runtime's part (headline, instance, gates, dead letters); views.js draws every gate's
// section from the views it declares.
(function () {
  'use strict';

  var P = window.StatusPage;
  var $ = P.$;
  var el = P.el;
  var badge = P.badge;
  var cell = P.cell;
  var replaceRows = P.replaceRows;
  var fmtCount = P.fmtCount;
  var fmtTime = P.fmtTime;
  var timeEl = P.timeEl;
  var fmtAgo = P.fmtAgo;
  var breakable = P.breakable;

  var POLL_MS = 2000;
  var lastSuccess = null;

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
    $('release-rehearsal').textContent = build && build.rehearsal ? ' · ' + rehearsalText(build.rehearsal) : '';
    $('clock-offset').textContent = clockText(status.clock);
  }

  /** This host's clock against Redis's, which decisions read (as `quantum-gates status` words it). */
  function clockText(clock) {
    if (!clock) return 'unknown';
    if (clock.host_ahead_ms === null) return "not yet measured against Redis's";
    var ms = clock.host_ahead_ms;
    var off = Math.abs(ms) < 1000 ? Math.round(ms) + ' ms' : Math.round(ms / 1000) + ' s';
    var beyond = Math.abs(ms) > clock.max_skew_sec * 1000 ? ', beyond PRICE_MAX_SKEW_SEC (' + clock.max_skew_sec + ' s)' : '';
    return 'this host ' + (ms >= 0 ? '+' : '') + off + " against Redis's TIME" + beyond;
  }

  /** The release's rehearsal before it was switched to (release.sh), as `quantum-gates status` words it. */
  function rehearsalText(r) {
    var what =
      r.could_not_run !== undefined
        ? 'could not be rehearsed (' + r.could_not_run + ')'
        : 'rehearsed ' +
          fmtTime(r.at) +
          ' on ' +
          (r.decisions || 0) +
          ' taped decisions: ' +
          (r.differ || 0) +
          ' different' +
          (r.differ && r.verdicts !== undefined && r.others !== undefined
            ? ' (' + r.verdicts + ' in their verdict, ' + r.others + ' only in other fields)'
            : '') +
          ', ' +
          (r.unanswerable || 0) +
          ' unanswerable';
    var scope = r.accepted && r.accepted.scope === 'other' ? ' (other fields only)' : '';
    var accepted = r.accepted
      ? '; accepted' + scope + ' by ' + r.accepted.by + ' at ' + fmtTime(r.accepted.at) + ': ' + r.accepted.reason
      : '';
    return 'release ' + what + accepted;
  }

  /** The runtime's own row of the safety switches; the gates' switches are drawn above it (views.js). */
  function renderDeadLetter(status) {
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
        cell('source', el('code', null, breakable(g.source + (g.group ? ' → ' + g.group : '')))),
      ]);
    });
    replaceRows($('gates-body'), rows, 10, 'No gates hosted by this process.');
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

  // ---- Gates' sections, drawn from the views they declare (GET /status/sections, views.js) ----

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

  function render(status) {
    renderHeadline(status);
    renderInstance(status);
    renderDeadLetter(status);
    renderGates(status);
    if (sectionViews !== null)
      P.drawSections(sectionViews, status, {
        switches: $('switches-body'),
        switchesCaption: $('switches-caption'),
        main: $('sections'),
        more: $('gate-sections'),
      });
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
    // The sections' views first, so the first status is drawn whole.
    (sectionViews === null ? loadSections() : Promise.resolve())
      .then(function () {
        return fetch(new URL('/status', location.origin), {
          cache: 'no-store',
          credentials: 'same-origin',
          headers: { accept: 'application/json' },
        });
      })
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
