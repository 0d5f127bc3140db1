// Jest on Node < 24.9 cannot require() ES modules, and @kubernetes/client-node (with openid-client, oauth4webapi and
// jose) ships only ES modules: this transformer rewrites them to CommonJS with swc (already installed for ts-node).
const { transformSync } = require('@swc/core');

module.exports = {
  process(source, filename) {
    const { code, map } = transformSync(source, {
      filename,
      module: { type: 'commonjs' },
      jsc: { target: 'es2022', parser: { syntax: 'ecmascript' } },
      sourceMaps: true,
      swcrc: false,
      configFile: false,
    });
    return { code, map };
  },
};
