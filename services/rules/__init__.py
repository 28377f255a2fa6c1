"""Automatic routine decisions: JSON Logic rules over a case's answers and registers.

Public face: `logic` (`validate` rules when a service is saved, `facts` of a case,
`first_match`, `inputs_of`); the case engine applies the rule (services.cases.engine).
"""
