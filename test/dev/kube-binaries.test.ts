import t from 'tap';
import { stagingReplaces, stagingVersion, versionStamp } from '../../dev/kube/kube-binaries.ts';

t.test(
  'stagingReplaces: the staging modules required at v0.0.0, not pseudo-versions or replace-only modules',
  async (t) => {
    const goMod = [
      'module k8s.io/kubernetes',
      '',
      'require (',
      '\tgithub.com/spf13/cobra v1.10.1',
      '\tk8s.io/api v0.0.0',
      '\tk8s.io/apiserver v0.0.0',
      // Real dependencies at pseudo-versions: published as they are, never replaced.
      '\tk8s.io/kube-openapi v0.0.0-20260721132016-d427ff9ee9ad',
      '\tk8s.io/utils v0.0.0-20260101000000-abcdef123456',
      ')',
      '',
      'require (',
      '\tk8s.io/component-base v0.0.0 // indirect',
      ')',
      '',
      'replace (',
      '\tk8s.io/api => ./staging/src/k8s.io/api',
      '\tk8s.io/sample-controller => ./staging/src/k8s.io/sample-controller',
      ')',
      '',
    ].join('\n');
    t.same(stagingReplaces(goMod, 'v0.37.2'), [
      'replace k8s.io/api => k8s.io/api v0.37.2',
      'replace k8s.io/apiserver => k8s.io/apiserver v0.37.2',
    ]);
    t.throws(() => stagingReplaces('module x\n', 'v0.37.2'), /no staging module/);
  },
);

t.test('versions: staging modules are v0.N.M of release v1.N.M; the stamp makes /version real', async (t) => {
  t.equal(stagingVersion('v1.37.2'), 'v0.37.2');
  t.throws(() => stagingVersion('v1.37.2-rc.1'));
  t.same(versionStamp('v1.37.2'), [
    '-X k8s.io/component-base/version.gitVersion=v1.37.2',
    '-X k8s.io/component-base/version.gitMajor=1',
    '-X k8s.io/component-base/version.gitMinor=37',
    '-X k8s.io/component-base/version.gitTreeState=clean',
  ]);
});
