import t from 'tap';
import { PodRateLimits, TokenBucket } from '../../../agent/filter/rate-limiter.ts';

t.test('token bucket: burst of one second, then the rate', async (t) => {
  const b = new TokenBucket(10, 0);
  let ok = 0;
  for (let i = 0; i < 25; i++) if (b.take(0)) ok++;
  t.equal(ok, 10, 'burst');
  t.equal(b.take(50), false, 'half a token after 50 ms');
  t.equal(b.take(100), true, 'one token after 100 ms');
  let later = 0;
  for (let ms = 100; ms <= 1100; ms += 10) if (b.take(ms)) later++;
  t.ok(later >= 9 && later <= 11, `about 10 per second (${later})`);
});

t.test('pod buckets are shared by key and swept when idle', async (t) => {
  const r = new PodRateLimits();
  const a = r.bucket('ns/p', 5, 0);
  t.equal(r.bucket('ns/p', 5, 0), a);
  a.take(10);
  r.sweep(5);
  t.equal(r.size, 1);
  r.sweep(11);
  t.equal(r.size, 0);
});
