"""What citizens do: apply (drafts, uploads, submission into a case), track a case with a
one-time code, pay a fee; and the daily clean-up of what they left unsent.

Public face: `submission` (`save_draft`, `submit_application`, `provide_information`),
`tracking` (`request_code`, `verify_code`, `public_history`), `payments` (`provider`,
`complete`), `cleanup` (`clean_up`), `models`; `views` and `urls` are the citizen pages
(/<lang>/apply/, /track/, /pay/).
"""
