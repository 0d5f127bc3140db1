import { hostOf, portOf, withPort } from '../src/address';
import { endpointAddress } from '../src/talos/connection';

describe('addresses as users write them', () => {
  it.each([
    ['10.5.0.2', '10.5.0.2', undefined, '10.5.0.2:50000'],
    ['10.5.0.2:50001', '10.5.0.2', 50001, '10.5.0.2:50001'],
    ['node-1.example', 'node-1.example', undefined, 'node-1.example:50000'],
    ['fd00::1', 'fd00::1', undefined, '[fd00::1]:50000'],
    ['[fd00::1]', 'fd00::1', undefined, '[fd00::1]:50000'],
    ['[fd00::1]:50001', 'fd00::1', 50001, '[fd00::1]:50001'],
  ])('reads %s as host %s, port %s', (address, host, port, endpoint) => {
    expect(hostOf(address)).toBe(host);
    expect(portOf(address)).toBe(port);
    expect(withPort(address, 50000)).toBe(endpoint);
    expect(endpointAddress(address)).toBe(endpoint);
  });

  it('drops a scheme from an endpoint, as talosctl does', () => {
    expect(endpointAddress('https://10.5.0.2')).toBe('10.5.0.2:50000');
  });
});
