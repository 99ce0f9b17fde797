/** The failure recap npm test prints before its count line (test/helpers/failure-recap.ts). */
import t from 'tap';
import { failureRecap } from '../helpers/failure-recap.ts';

const TAP = `# Subtest: test/a.test.ts
    # Subtest: outer
        # Subtest: inner
            ok 1 - fine
            not ok 2 - one is two
              ---
              diff: |
                -2
                +1
              ...
            1..2
        not ok 1 - inner # time=3ms
        1..1
    not ok 1 - outer # time=4ms
    ok 2 - sibling
    1..2
not ok 1 - test/a.test.ts # time=9ms
  ---
  exitCode: 1
  ...
# Subtest: test/b.test.ts
    not ok 1 - top-level assertion
    1..1
not ok 2 - test/b.test.ts # time=1ms
`;

t.test('each failed assertion once, with its subtest path and dedented diagnostic', async (t) => {
  const recap = failureRecap();
  for (const line of TAP.split('\n')) recap.read(line);
  t.equal(
    recap.render(),
    [
      '',
      '# failures (2):',
      'not ok - test/a.test.ts > outer > inner > one is two',
      '  ---',
      '  diff: |',
      '    -2',
      '    +1',
      '  ...',
      'not ok - test/b.test.ts > top-level assertion',
      '',
    ].join('\n'),
  );
});

t.test('nothing when every assertion passed', async (t) => {
  const recap = failureRecap();
  for (const line of ['# Subtest: x', '    ok 1 - fine', 'ok 1 - x']) recap.read(line);
  t.equal(recap.render(), '');
});
