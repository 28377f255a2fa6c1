"""Read access to the national registers for tenant code (cms, services).

Register tables live in the public schema; a tenant request's search path ends with `public`,
so they are readable from any tenant while only the national operator can change them.
Tenants store register *codes*, never foreign keys, so no tenant row can block a register
change and no tenant schema depends on another schema's tables.
"""

from collections.abc import Collection

from django.core.exceptions import ValidationError

from .models import LifeEvent, ServiceCategory, Territory

Register = type[LifeEvent] | type[ServiceCategory] | type[Territory]
REGISTERS: dict[str, Register] = {
    "life_events": LifeEvent, "categories": ServiceCategory, "territories": Territory,
}


def choices(register: str, language: str = "ru") -> list[tuple[str, str]]:
    model = REGISTERS[register]
    return [(e.code, e.name(language)) for e in model.objects.all()]


def names(register: str, codes: Collection[str] | None, language: str = "ru") -> list[str]:
    model = REGISTERS[register]
    by_code = {e.code: e for e in model.objects.filter(code__in=list(codes or []))}
    return [by_code[c].name(language) for c in codes or [] if c in by_code]


def validate_codes(register: str, codes: Collection[str] | None) -> None:
    model = REGISTERS[register]
    known = set(model.objects.filter(code__in=list(codes or [])).values_list("code", flat=True))
    unknown = sorted(set(codes or []) - known)
    if unknown:
        raise ValidationError(f"Unknown {register.replace('_', ' ')} code(s): {', '.join(unknown)}")
