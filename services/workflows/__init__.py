"""Case workflows: the states a case goes through and the steps between them, edited in the
admin and frozen in versions.

Public face: `spec` (the workflow definition: validation, labels, transitions, the default
workflow), `models` (Workflow, WorkflowVersion), `blocks` (the editor's blocks and the
definition built from them), `diagram` (the SVG state diagram of the overview tab).
"""
