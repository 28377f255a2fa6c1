"""Online forms: what a service asks and how answers are checked.

Public face: `models` (OnlineService: a service page that takes applications, with the form
editors build; FormVersion; ServicesSettings), `spec` (the plain form spec: validation,
Django form built from it, `answer_rows` to show answers), `blocks` (the form builder's
StreamField blocks and `spec_from_stream`), `national_id` (SNILS and INN checks).
"""
