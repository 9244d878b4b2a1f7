module.exports = require('@penguinmails/testkit/jest-preset')(__dirname);
