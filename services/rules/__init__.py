"""Automatic routine decisions: JSON Logic rules over a case's answers and registers.

Public face: `logic` (`validate` rules when a service is saved, `facts` of a case,
`first_match`, `inputs_of`); `engine` (the JSON Logic library behind them, `holds`);
`builder` (the rules builder's terms and the JSON Logic they stand for, both ways);
`blocks` (the builder in the admin: `RulesBuilderFormMixin`); the case engine applies the rule
(services.cases.engine).
"""
