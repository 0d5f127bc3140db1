/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': 'ts-jest',
    // age-encryption and its @noble/@scure dependencies are ES modules only; Node loads them with require(), jest's
    // module system cannot, so they are compiled to CommonJS for the tests.
    '^.+\\.js$': ['ts-jest', { tsconfig: { allowJs: true, isolatedModules: true, module: 'commonjs' } }],
  },
  transformIgnorePatterns: ['/node_modules/(?!(age-encryption|@noble|@scure)/)'],
  testTimeout: 60_000,
  // Integration suites start real etcd members and gRPC servers; two workers match the machine's two cores.
  maxWorkers: 2,
};
