"""Online forms: what a service asks and how answers are checked.

Public face: `models` (OnlineService: the online form of a service page, edited in the
page's "Online application" tab and published with it; FormVersion; ServicesSettings),
`spec` (the plain form spec: validation, Django form built from it, `answer_rows` to show
answers), `conditions` (conditional questions: operators, checks, `is_met`, the applicant's
hint), `blocks` (the form builder's StreamField blocks, `FormBuilderBlock` and
`spec_from_stream`), `national_id` (SNILS and INN checks), `views` (the admin's read-only
list of online services).
"""
