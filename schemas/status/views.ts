/**
 * The shapes a gate's status section is drawn in, on the page (app/status-page/app.js) and in
 * `quantum-gates status` (cli/section-view.ts), neither of which knows any gate. Each shape names
 * the fields it draws through the section's value type: `SectionView<HeatStatus>` accepts
 * `{ key: 'bucket' }` and refuses `{ key: 'bukcet' }`, so renaming a field of the value fails to
 * type-check where the section is declared instead of blanking the page.
 *
 * Text in a caption may put a key or a stream name in `backticks`: the page writes it as code.
 */

/** How a value is written. */
export type ValueFormat =
  /** As it is (an object as JSON); on the page a " → " keeps its arrow with what follows. */
  | 'text'
  /** Monospace on the page, breakable after each underscore. */
  | 'code'
  /** A whole number with thousands separators. */
  | 'count'
  /** `digits` after the point (4 unless said); the terminal writes a whole number without them. */
  | 'number'
  /** Two decimals, thousands separated on the page. */
  | 'usd'
  /** Whole dollars with their sign: "$150", "−$150". */
  | 'dollars'
  /** Milliseconds since the epoch, written with the zone's name. */
  | 'time'
  /** A yes / no badge (a true flag is the one to notice). */
  | 'flag';

/** A badge's colour: ok, warn and bad are health; info, stop and neutral tell normal states apart; muted is plain grey text. */
export type Tone = 'ok' | 'warn' | 'bad' | 'info' | 'stop' | 'neutral' | 'muted';

/** Where a view is drawn: both by default. */
export type Medium = 'page' | 'terminal';

/** The keys of an object type (null and undefined removed), as strings. */
export type FieldKey<T> = Extract<keyof NonNullable<T>, string>;
/** The keys of T whose values (null removed) are of type U. */
export type FieldKeyOf<T, U> = { [K in FieldKey<T>]-?: NonNullable<NonNullable<T>[K]> extends U ? K : never }[FieldKey<T>];
/** The keys of T that hold a list of objects. */
export type ListKey<T> = FieldKeyOf<T, readonly object[]>;
/** An item of the list at K. */
export type ItemOf<T, K extends FieldKey<T>> = NonNullable<NonNullable<T>[K]> extends readonly (infer I)[] ? I : never;

/**
 * One case of a badge: the first case whose `when` all hold (equality with the row's fields) is
 * drawn; a case without `when` is the default. Null is drawn as "–" before any case is tried.
 */
export interface BadgeCase<Row> {
  readonly when?: { readonly [K in FieldKey<Row>]?: NonNullable<Row>[K] };
  /** The badge's text; without one, the value itself. */
  readonly text?: string;
  readonly tone: Tone;
  /** A hover text saying what the state means. */
  readonly title?: string;
  /** The same state in the terminal; without one, the value itself. */
  readonly terminal?: string;
}

/** Named bands between edges: names[0] below edges[0], names[i] from edges[i-1] to edges[i], the last above. */
export interface BandNames<Edges> {
  /** The edges' keys in the field's object, lowest first ({min, max} → ['min', 'max']). */
  readonly edges: readonly FieldKeyOf<Edges, number>[];
  /** One more than the edges: COLD, WARM, HOT. */
  readonly names: readonly string[];
}

/** How a field is written in the terminal, where it differs from the page; false: not at all. */
export type TerminalField =
  | false
  | {
      /** Its column heading (the page's label in capitals otherwise). */
      readonly label?: string;
      readonly format?: ValueFormat;
      readonly digits?: number;
      /** Longer text is cut to this many characters. */
      readonly width?: number;
    };

interface FieldOf<Row, K extends FieldKey<Row>> {
  readonly key: K;
  readonly label: string;
  readonly format?: ValueFormat;
  /** Digits after the point for 'number'. */
  readonly digits?: number;
  /** Drawn as a badge chosen by the first matching case. */
  readonly badge?: readonly BadgeCase<Row>[];
  /** The value is an object of band edges, written "COLD < 0.25 ≤ WARM < 0.65 ≤ HOT". */
  readonly bands?: BandNames<NonNullable<Row>[K]>;
  /** A time also says how long ago it was ("(2 s ago)"). */
  readonly ago?: boolean;
  /** Written instead of "–" when the value is null. */
  readonly missing?: string;
  /** When the value is null, the text of this field of the row instead, where it has one (why it is not known). */
  readonly missingFrom?: FieldKey<Row>;
  /** The cell's name on the page (data-field), where it is not the key. */
  readonly name?: string;
  /** Its width in a wrapping table, in rem. */
  readonly width?: number;
  /** In a wrapping table: 'never' keeps it on one line, 'anywhere' lets it break inside a word. */
  readonly wrap?: 'never' | 'anywhere';
  readonly terminal?: TerminalField;
}

/** One field of a row or of the value, named through its type. */
export type ViewField<Row> = { [K in FieldKey<Row>]: FieldOf<Row, K> }[FieldKey<Row>];

interface ViewBase {
  /** Drawn on the page only, or in the terminal only; both without it. */
  readonly only?: Medium;
}

/** Label / value rows of the value's fields. */
export interface FieldsView<Value> extends ViewBase {
  readonly shape: 'fields';
  readonly fields: readonly ViewField<Value>[];
  /** Said above the rows (`code` in backticks). */
  readonly caption?: string;
}

interface TableOf<Row> extends ViewBase {
  readonly shape: 'table';
  readonly columns: readonly ViewField<Row>[];
  /** Said when there are no rows. */
  readonly empty: string;
  /** Said above the table (`code` in backticks). */
  readonly caption?: string;
  /** The first column heads its row. */
  readonly rowHeader?: boolean;
  /** data-* attributes of each row on the page, from its fields ({ symbol: 'symbol' } → data-symbol="BTCUSDT"). */
  readonly rowData?: { readonly [attribute: string]: FieldKey<Row> };
  /** Long cells wrap rather than the table scroll sideways (times put their date above their time). */
  readonly wrap?: boolean;
  /** Rows the terminal lists at most (it has no scroll bar). */
  readonly terminalRows?: number;
}

/** One row per item: of the value when it is a list, else of the list at `rows`. */
export type TableView<Value> = [NonNullable<Value>] extends [readonly (infer Row)[]]
  ? TableOf<Row> & { readonly rows?: undefined }
  : { [K in ListKey<Value>]: TableOf<ItemOf<Value, K>> & { readonly rows: K } }[ListKey<Value>];

/** Bands drawn across a chart from edges in the value: thresholds, whether the x or the y axis carries them. */
export type ChartBands<Value> = {
  [K in FieldKeyOf<Value, object>]: BandNames<NonNullable<NonNullable<Value>[K]>> & {
    /** The field of the value holding the edges (null: no bands, the chart says nothing of them). */
    readonly at: K;
    /** The axis the edges are values of: 'y' for a history of the measure, 'x' for its distribution. */
    readonly axis: 'x' | 'y';
  };
}[FieldKeyOf<Value, object>];

interface SeriesOf<Value, K extends FieldKey<Value>, Point> extends ViewBase {
  readonly shape: 'series';
  /** The list of points in the value. */
  readonly points: K;
  readonly x: FieldKeyOf<Point, number>;
  readonly y: FieldKeyOf<Point, number>;
  /** 'time' (the default): x is milliseconds since the epoch; 'number': any measure (a distribution's values). */
  readonly xFormat?: 'time' | 'number';
  /** How y is written on its axis and in a point's tip: 'number' (the default, `yDigits` digits) or 'dollars'. */
  readonly yFormat?: 'number' | 'dollars';
  readonly yDigits?: number;
  /**
   * 'steps' (the default): the value holds from one point to the next; 'line': straight between
   * points; 'bars': one bar per point (a distribution's counts).
   */
  readonly mark?: 'steps' | 'line' | 'bars';
  /** The line starts at this y before the first point (a running sum from 0), drawn dashed. */
  readonly from?: number;
  /** A text field of each point said with its value ("0.8250 HOT"). */
  readonly tag?: FieldKeyOf<Point, string>;
  /** What y is, said in a point's tip ("heat 0.8250"). */
  readonly name?: string;
  readonly bands?: ChartBands<Value>;
  /** The chart's name for screen readers. */
  readonly label: string;
  /** What a point is, for the chart's description ("decisions": "3 decisions from … to …"). */
  readonly pointsAre?: string;
  /** Said under the chart (`code` in backticks). */
  readonly caption?: string;
  /** Said when there are no points; nothing at all without it. */
  readonly empty?: string;
}

/** A chart of the points in the list at `points`. */
export type SeriesView<Value> = { [K in ListKey<Value>]: SeriesOf<Value, K, ItemOf<Value, K>> }[ListKey<Value>];

/** A state of a switch: a badge, and a field said after it. In the terminal, `terminal` or else `text`. */
export interface SwitchState<Value> extends BadgeCase<Value> {
  /** A field said after the badge where it is not null. */
  readonly note?: FieldKey<Value>;
  /** The note is written `(label "value")`; without a label, as it is on the page and in parentheses in the terminal. */
  readonly noteLabel?: string;
}

/**
 * A row of the page's safety switches (beside the dead-letter stream) and a part of the
 * terminal's switches line: a badge for its state. The section then has no block of its own.
 */
export interface SwitchView<Value> extends ViewBase {
  readonly shape: 'switch';
  /** The row's heading, with `code` naming its key. */
  readonly label: string;
  readonly code?: string;
  /** Its name in the switches' caption ("governor auto-disarm"). */
  readonly caption: string;
  /** Its name in the terminal's switches line ("kill switch"). */
  readonly terminal: string;
  /** Its states, the first matching one drawn. */
  readonly states: readonly SwitchState<Value>[];
}

/** A field said in a sentence: left out (with `before` and `after`) when null, or 0 with `skipZero`. */
export type SentencePart<Value> = {
  [K in FieldKey<Value>]: Omit<FieldOf<Value, K>, 'label'> & {
    readonly before?: string;
    readonly after?: string;
    readonly skipZero?: boolean;
  };
}[FieldKey<Value>];

/**
 * One line of text made of words and fields: the page's summary under a heading, the
 * terminal's one line for a section (which then goes at the top, beside the switches).
 */
export interface SentenceView<Value> extends ViewBase {
  readonly shape: 'sentence';
  readonly parts: readonly (string | SentencePart<Value>)[];
  /** Said instead, by the first case that holds. */
  readonly unless?: readonly { readonly when: { readonly [K in FieldKey<Value>]?: NonNullable<Value>[K] }; readonly say: string }[];
}

/**
 * The shapes, typed by the section's value. A value of null is drawn as "could not be read".
 * Where the value type is unknown (the runtime's list of every gate's sections, the JSON of
 * GET /status/sections), the shapes with plain string keys.
 */
export type SectionView<Value> = unknown extends Value
  ? AnySectionView
  : FieldsView<Value> | TableView<Value> | SeriesView<Value> | SwitchView<Value> | SentenceView<Value>;

/** A view as the page and the CLI receive it: the same shapes, every key a string. */
export type AnySectionView =
  | FieldsView<AnyRecord>
  | (TableOf<AnyRecord> & { readonly rows?: string })
  | (Omit<SeriesOf<AnyRecord, string, AnyRecord>, 'bands'> & {
      readonly bands?: BandNames<AnyRecord> & { readonly at: string; readonly axis: 'x' | 'y' };
    })
  | SwitchView<AnyRecord>
  | SentenceView<AnyRecord>;

/** A value whose keys are not known here: any string is a key. */
// `any` on purpose: AnyRecord stands for every section's value at once, and every member of it must accept any key's type.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyRecord = Record<string, any>;
