/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': 'ts-jest',
    // ES-module-only packages (@kubernetes/client-node with openid-client, oauth4webapi and jose; age-encryption with
    // its @noble/@scure dependencies): Node loads them with require(), jest's module system cannot, so the
    // transformer compiles them to CommonJS for the tests.
    '^.+\\.js$': '<rootDir>/scripts/jest-esm-to-cjs.js',
  },
  transformIgnorePatterns: ['/node_modules/(?!(@kubernetes/client-node|openid-client|oauth4webapi|jose|age-encryption|@noble|@scure)/)'],
  testTimeout: 60_000,
  // Integration suites start real etcd members and gRPC servers; two workers match the machine's two cores.
  maxWorkers: 2,
};
