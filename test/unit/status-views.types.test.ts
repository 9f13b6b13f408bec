import { describe, expect, it } from 'vitest';
import { defineStatusSection } from '../../runtime/contract/index.js';
import { type SectionView } from '../../schemas/status/views.js';

/**
 * A view names its fields through the section's value type: `npx tsc --noEmit -p .` checks this
 * file, and every `@ts-expect-error` below is an error it must find (an unused one is an error
 * too). The runtime half only shows that the declarations are plain data.
 */

interface Thresholds {
  readonly min: number;
  readonly max: number;
}

interface HeatLike {
  readonly value: number | null;
  readonly bucket: string | null;
  readonly thresholds: Thresholds | null;
  readonly history: readonly { readonly at: number; readonly heat: number; readonly bucket: string | null }[];
}

/** A distribution: x values that are not times, with the same thresholds drawn on the x axis. */
interface Calibration {
  readonly thresholds: Thresholds;
  readonly bins: readonly { readonly heat: number; readonly count: number }[];
}

interface Row {
  readonly symbol: string;
  readonly over: boolean;
}

const read = () => Promise.resolve(null);

describe('status view shapes', () => {
  it('accept the fields of the value', () => {
    const heat = defineStatusSection<unknown, HeatLike>({
      key: 'heat_like',
      title: 'Heat',
      views: [
        { shape: 'fields', fields: [{ key: 'value', label: 'Heat', format: 'number', digits: 4 }] },
        {
          shape: 'fields',
          fields: [{ key: 'bucket', label: 'Bucket', badge: [{ when: { bucket: 'HOT' }, tone: 'stop' }, { tone: 'neutral' }] }],
        },
        {
          shape: 'fields',
          fields: [{ key: 'thresholds', label: 'Thresholds', bands: { edges: ['min', 'max'], names: ['COLD', 'WARM', 'HOT'] } }],
        },
        {
          shape: 'series',
          points: 'history',
          x: 'at',
          y: 'heat',
          tag: 'bucket',
          bands: { at: 'thresholds', axis: 'y', edges: ['min', 'max'], names: ['COLD', 'WARM', 'HOT'] },
          label: 'Heat history',
        },
        {
          shape: 'switch',
          label: 'Hot',
          caption: 'hot',
          terminal: 'hot',
          states: [{ when: { bucket: 'HOT' }, text: 'HOT', tone: 'bad', note: 'value' }],
        },
        { shape: 'sentence', parts: ['heat ', { key: 'value', format: 'number' }], unless: [{ when: { value: null }, say: 'no heat' }] },
      ],
      read,
    });
    const calibration: SectionView<Calibration> = {
      shape: 'series',
      points: 'bins',
      x: 'heat',
      xFormat: 'number',
      y: 'count',
      mark: 'bars',
      bands: { at: 'thresholds', axis: 'x', edges: ['min', 'max'], names: ['COLD', 'WARM', 'HOT'] },
      label: 'Heat distribution',
    };
    const rows: SectionView<readonly Row[]> = {
      shape: 'table',
      empty: 'none',
      rowData: { symbol: 'symbol' },
      columns: [
        { key: 'symbol', label: 'Symbol' },
        {
          key: 'over',
          label: 'Over',
          badge: [
            { when: { over: true }, text: 'OVER', tone: 'warn' },
            { text: 'no', tone: 'ok' },
          ],
        },
      ],
    };
    expect(heat.views).toHaveLength(6);
    expect([calibration.shape, rows.shape]).toEqual(['series', 'table']);
  });

  it('refuse a field the value does not have, wherever a view names one', () => {
    const views: SectionView<HeatLike>[] = [
      // @ts-expect-error 'bukcet' is not a field of HeatLike
      { shape: 'fields', fields: [{ key: 'bukcet', label: 'Bucket' }] },
      // @ts-expect-error the points' field is 'heat', not 'heat_value'
      { shape: 'series', points: 'history', x: 'at', y: 'heat_value', label: 'Heat' },
      // @ts-expect-error 'histories' is not a list of the value
      { shape: 'series', points: 'histories', x: 'at', y: 'heat', label: 'Heat' },
      {
        shape: 'series',
        points: 'history',
        x: 'at',
        y: 'heat',
        label: 'Heat',
        // @ts-expect-error the thresholds have no edge 'low'
        bands: { at: 'thresholds', axis: 'y', edges: ['low'], names: [] },
      },
      // @ts-expect-error a badge case compares a field the value does not have
      { shape: 'fields', fields: [{ key: 'bucket', label: 'Bucket', badge: [{ when: { heat_bucket: 'HOT' }, tone: 'stop' }] }] },
      // @ts-expect-error a badge case compares with a value of the wrong type
      { shape: 'fields', fields: [{ key: 'bucket', label: 'Bucket', badge: [{ when: { bucket: 1 }, tone: 'stop' }] }] },
      // @ts-expect-error a switch's note names a field the value does not have
      { shape: 'switch', label: 'Hot', caption: 'hot', terminal: 'hot', states: [{ tone: 'bad', note: 'detail' }] },
      // @ts-expect-error a sentence names a field the value does not have
      { shape: 'sentence', parts: [{ key: 'heat' }] },
    ];
    const table: SectionView<readonly Row[]>[] = [
      // @ts-expect-error a column the rows do not have
      { shape: 'table', empty: 'none', columns: [{ key: 'symbl', label: 'Symbol' }] },
      // @ts-expect-error a row attribute from a field the rows do not have
      { shape: 'table', empty: 'none', rowData: { id: 'id' }, columns: [{ key: 'symbol', label: 'Symbol' }] },
    ];
    expect(views.length + table.length).toBe(10);
  });
});
