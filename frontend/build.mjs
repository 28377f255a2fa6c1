// Build cms/static/cms/{dgbox.css,dgbox.js} from src/ with Sass and Node only.
//
//   node build.mjs [--out DIR]      (or DGBOX_STATIC_OUT=DIR node build.mjs)
//
// Output is deterministic: same lock file and sources, same bytes.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

import * as sass from 'sass'

const here = dirname(fileURLToPath(import.meta.url))
const require = createRequire(import.meta.url)

function outputDir() {
  const i = process.argv.indexOf('--out')
  if (i !== -1) {
    if (!process.argv[i + 1]) fail('--out needs a directory, e.g. --out /tmp/dgbox-static')
    return resolve(process.argv[i + 1])
  }
  if (process.env.DGBOX_STATIC_OUT) return resolve(process.env.DGBOX_STATIC_OUT)
  return join(here, '..', 'cms', 'static', 'cms')
}

function fail(message) {
  console.error(`dgbox front-end build failed: ${message}`)
  process.exit(1)
}

const govukDir = dirname(require.resolve('govuk-frontend/package.json'))
const govukVersion = JSON.parse(readFileSync(join(govukDir, 'package.json'), 'utf8')).version
const out = outputDir()
mkdirSync(out, { recursive: true })

// --- CSS -------------------------------------------------------------------
const css = sass.compile(join(here, 'src', 'dgbox.scss'), {
  style: 'compressed',
  sourceMap: false,
  charset: false,
  loadPaths: [join(here, 'node_modules')],
  // GOV.UK Frontend 5 is written for @import and older Sass built-ins: its
  // warnings are not ours to fix, and dgbox.scss must @import it.
  quietDeps: true,
  silenceDeprecations: ['import']
}).css

// Guard the rebrand: no GOV.UK font, no font files, no image we do not ship.
if (/GDS Transport/i.test(css)) fail('the CSS mentions the GDS Transport font')
if (/@font-face/i.test(css)) fail('the CSS contains @font-face')
if (/\burl\(/i.test(css)) fail('the CSS contains url(): dgbox ships no images or fonts')
writeFileSync(join(out, 'dgbox.css'), css + '\n')

// --- JS --------------------------------------------------------------------
// GOV.UK Frontend's minified ES module, minus its export list and source map
// comment, followed by src/dgbox.js: one module, one request.
const govukJs = readFileSync(join(govukDir, 'dist', 'govuk', 'govuk-frontend.min.js'), 'utf8')
  .replace(/\n?\/\/# sourceMappingURL=\S+\s*$/, '')
const exportList = /export\s*\{([^}]*)\};?\s*$/.exec(govukJs)
if (!exportList) fail('govuk-frontend.min.js no longer ends with an export list')
const exported = exportList[1].split(',').map((name) => name.trim())
const needed = ['createAll', 'Button', 'Checkboxes', 'ErrorSummary', 'Header',
  'NotificationBanner', 'Radios', 'ServiceNavigation', 'SkipLink']
const missing = needed.filter((name) => !exported.includes(name))
if (missing.length) fail(`govuk-frontend.min.js does not export ${missing.join(', ')}`)

// Our source is small and written for this: drop comment lines and indentation.
const ownJs = readFileSync(join(here, 'src', 'dgbox.js'), 'utf8')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line && !line.startsWith('//'))
  .join('\n')

const banner = `/*! dgbox | GOV.UK Frontend v${govukVersion} (MIT licence, (c) Crown copyright) */`
const js = `${banner}\n${govukJs.slice(0, exportList.index)}\n${ownJs}\n`
writeFileSync(join(out, 'dgbox.js'), js)

for (const name of ['dgbox.css', 'dgbox.js']) {
  const bytes = readFileSync(join(out, name)).length
  console.log(`${join(out, name)}: ${bytes} bytes`)
}
