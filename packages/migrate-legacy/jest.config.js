// Tests start the real services (built dist/main.js) through the testkit's startPlatform.
module.exports = require('@penguinmails/testkit/jest-preset')(__dirname, { testTimeout: 300_000 });
