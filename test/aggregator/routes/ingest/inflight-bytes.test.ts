import t from 'tap';
import { InFlightBytes } from '../../../../aggregator/routes/ingest/inflight-bytes.ts';

t.test('the in-flight byte budget admits what fits and always one request alone', async (t) => {
  const b = new InFlightBytes(100);
  t.ok(b.tryAcquire(60), 'fits');
  t.notOk(b.tryAcquire(50), 'would exceed the budget while another request is in flight');
  t.ok(b.tryAcquire(40), 'exactly fills it');
  b.release(60);
  b.release(40);
  t.equal(b.used, 0, 'released');
  t.ok(b.tryAcquire(500), 'alone, even over the budget: slow, not starved');
  t.ok(b.tryAcquire(300, 500), 'its own second step (the inflated body) does not count against it');
  t.notOk(b.tryAcquire(1), 'others wait');
  b.release(800);
  t.equal(b.used, 0);
});
