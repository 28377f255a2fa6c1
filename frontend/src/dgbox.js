// dgbox: start GOV.UK Frontend's JavaScript for the components on the page.
//
// build.mjs appends this file to GOV.UK Frontend's own minified ES module, so
// createAll and the component classes below are in scope and the browser
// fetches a single file. It only enhances: every page works without it.

// GOV.UK Frontend enhances only when <body> has these classes. The page
// template should add them in a tiny inline script at the top of <body> (so
// the mobile menus do not flash open); add them here too in case it did not.
// Only browsers with ES modules, which GOV.UK Frontend requires, run this.
document.body.classList.add('js-enabled', 'govuk-frontend-supported')

// The components in dgbox.css that have behaviour. createAll finds each by
// its data-module attribute (e.g. data-module="govuk-header") and does
// nothing when the page has none.
for (const Component of [
  Button,
  Checkboxes,
  ErrorSummary,
  Header,
  NotificationBanner,
  Radios,
  ServiceNavigation,
  SkipLink
]) {
  createAll(Component)
}
