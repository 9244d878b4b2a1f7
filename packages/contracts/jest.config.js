module.exports = require('../testkit/jest-preset')(__dirname);
