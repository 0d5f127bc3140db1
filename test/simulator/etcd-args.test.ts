import { loopbackExtraArgs } from '../../src/simulator/etcd/process';

describe("a simulated node's etcd extraArgs", () => {
  it('passes flags through, leaves out the ones Talos manages, and keeps every URL flag on loopback', () => {
    const { args, dropped } = loopbackExtraArgs(
      {
        'snapshot-count': '100',
        'listen-client-urls': 'http://0.0.0.0:2379',
        // What users set on real nodes to scrape etcd: every interface, here the node's own loopback address.
        'listen-metrics-urls': 'http://0.0.0.0:2381',
        'listen-client-http-urls': 'http://[::]:2382,http://127.0.0.11:2383',
        'experimental-peer-urls': 'http://10.5.0.2:2390,http://127.0.0.11:2391',
      },
      '127.0.0.11',
    );
    expect(args).toEqual(['--snapshot-count=100', '--listen-metrics-urls=http://127.0.0.11:2381', '--listen-client-http-urls=http://127.0.0.11:2382,http://127.0.0.11:2383']);
    expect(dropped).toEqual(['--experimental-peer-urls=http://10.5.0.2:2390,http://127.0.0.11:2391 (http://10.5.0.2:2390 is not on loopback)']);
  });
});
