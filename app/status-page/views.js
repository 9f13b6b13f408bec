// The status page's drawing of the gates' sections, from the shapes each gate declares (GET
// /status/sections, schemas/status/views.ts): this file knows no gate. Plain browser
// JavaScript on kit.js and chart.js.
(function () {
  'use strict';

  var P = window.StatusPage;
  var el = P.el;
  var badge = P.badge;
  var replaceRows = P.replaceRows;
  var breakable = P.breakable;
  var fmtCount = P.fmtCount;
  var fmtNumber = P.fmtNumber;
  var fmtUsd = P.fmtUsd;
  var fmtPnl = P.fmtPnl;
  var fmtAgo = P.fmtAgo;
  var chartWidth = P.chartWidth;
  var stackedTimeEl = P.stackedTimeEl;
  var timeEl = P.timeEl;
  var richText = P.richText;
  var dashed = P.dashed;
  var arrowText = P.arrowText;

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
      var from = field.missingFrom === undefined ? null : row[field.missingFrom];
      if (from !== null && from !== undefined && from !== '') return String(from);
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

  // ---- The shapes (schemas/status/views.ts) ----

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
            if (v === null || v === undefined || (part.skipZero && v === 0)) {
              var from = part.missingFrom === undefined ? null : value[part.missingFrom];
              return from !== null && from !== undefined && from !== '' ? String(from) : part.missing || '';
            }
            return (part.before || '') + fieldText(value, part) + (part.after || '');
          })
          .join('');
    return el('p', { class: 'muted', id: ctx.key + '-summary' }, text);
  }

  var SHAPES = { fields: fieldsView, table: tableView, series: P.seriesView, sentence: sentenceView };

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

  // What app.js (the page's frame: headline, gates, polling) draws the sections with.
  P.drawSections = drawSections;
})();
