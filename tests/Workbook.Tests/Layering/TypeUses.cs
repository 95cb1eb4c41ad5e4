using System.Reflection;
using System.Reflection.Emit;

namespace Workbook.Tests.Layering;

/// <summary>
/// One use of a type, found in a built assembly: <see cref="From"/> is the top-level type whose code uses
/// <see cref="To"/> (compiler-generated nested types — lambdas, closures, state machines, LibraryImport stubs — count
/// for the type they are nested in), <see cref="Where"/> says where ("method Run", "field x", "base type"), and
/// <see cref="Member"/> is the field or method the IL touched, if the use came from a method body.
/// </summary>
sealed record TypeUse(Type From, Type To, string Where, MemberInfo? Member = null)
{
    public override string ToString() =>
        $"{From.FullName} → {To.FullName ?? To.Name} (in {Where}{(Member is null || Member is Type ? "" : $", uses {Member.Name}")})";
}

/// <summary>
/// The types a type uses, read from the built assembly with resolved references: base type, interfaces, generic
/// constraints, fields, properties, events, method signatures, locals, catch clauses, custom attributes (also
/// <c>typeof</c> arguments) and every type, method and field token in the IL of method bodies.
/// </summary>
static class TypeUses
{
    const BindingFlags Declared = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance |
                                  BindingFlags.Static | BindingFlags.DeclaredOnly;

    /// <summary>The outermost type a (possibly nested) type is declared in.</summary>
    public static Type Outermost(Type type) => type.DeclaringType is { } outer ? Outermost(outer) : type;

    public static IEnumerable<MethodBase> Methods(Type type) =>
        type.GetMethods(Declared).Cast<MethodBase>().Concat(type.GetConstructors(Declared));

    public static List<TypeUse> Of(Type type)
    {
        var from = Outermost(type);
        var nested = type == from ? "" : type.FullName![(from.FullName!.Length + 1)..] + ".";
        var uses = new List<TypeUse>();

        void Use(Type? used, string where, MemberInfo? member = null)
        {
            foreach (var part in Parts(used)) uses.Add(new(from, part, where, member));
        }
        void Attributes(IEnumerable<CustomAttributeData> attributes, string where)
        {
            foreach (var a in attributes)
            {
                Use(a.AttributeType, $"attribute of {where}");
                foreach (var arg in a.ConstructorArguments.Concat(a.NamedArguments.Select(n => n.TypedValue)))
                    Argument(arg, $"attribute of {where}");
            }
        }
        void Argument(CustomAttributeTypedArgument arg, string where)
        {
            Use(arg.ArgumentType, where);
            if (arg.Value is Type typeOf) Use(typeOf, where);
            if (arg.Value is IEnumerable<CustomAttributeTypedArgument> array)
                foreach (var element in array) Argument(element, where);
        }
        void Constraints(Type[] genericParameters, string where)
        {
            foreach (var p in genericParameters.Where(p => p.IsGenericParameter))
                foreach (var c in p.GetGenericParameterConstraints()) Use(c, where);
        }

        var self = nested == "" ? "type" : $"type {nested.TrimEnd('.')}";
        Use(type.BaseType, $"base type of {self}");
        foreach (var i in type.GetInterfaces().Except(type.BaseType?.GetInterfaces() ?? [])) Use(i, $"interfaces of {self}");
        Constraints(type.GetGenericArguments(), $"generic constraints of {self}");
        Attributes(type.GetCustomAttributesData(), self);

        foreach (var f in type.GetFields(Declared))
        {
            Use(f.FieldType, $"field {nested}{f.Name}");
            Attributes(f.GetCustomAttributesData(), $"field {nested}{f.Name}");
        }
        foreach (var p in type.GetProperties(Declared))
        {
            Use(p.PropertyType, $"property {nested}{p.Name}");
            foreach (var index in p.GetIndexParameters()) Use(index.ParameterType, $"property {nested}{p.Name}");
            Attributes(p.GetCustomAttributesData(), $"property {nested}{p.Name}");
        }
        foreach (var e in type.GetEvents(Declared))
        {
            Use(e.EventHandlerType, $"event {nested}{e.Name}");
            Attributes(e.GetCustomAttributesData(), $"event {nested}{e.Name}");
        }
        foreach (var m in Methods(type))
        {
            var where = $"method {nested}{m.Name}";
            if (m is MethodInfo method)
            {
                Use(method.ReturnType, where);
                Attributes(method.ReturnParameter.GetCustomAttributesData(), where);
                Constraints(method.GetGenericArguments(), where);
            }
            foreach (var p in m.GetParameters())
            {
                Use(p.ParameterType, where);
                Attributes(p.GetCustomAttributesData(), where);
            }
            Attributes(m.GetCustomAttributesData(), where);

            if (m.GetMethodBody() is not { } body) continue;
            foreach (var local in body.LocalVariables) Use(local.LocalType, where);
            foreach (var clause in body.ExceptionHandlingClauses.Where(c => c.Flags == ExceptionHandlingClauseOptions.Clause))
                Use(clause.CatchType, where);
            foreach (var member in Il.Operands(m))
            {
                switch (member)
                {
                    case Type t:
                        Use(t, where, t);
                        break;
                    case FieldInfo f:
                        Use(f.DeclaringType, where, f);
                        Use(f.FieldType, where, f);
                        break;
                    case MethodBase callee:
                        Use(callee.DeclaringType, where, callee);
                        if (callee is MethodInfo mi)
                        {
                            Use(mi.ReturnType, where, callee);
                            foreach (var arg in mi.IsGenericMethod ? mi.GetGenericArguments() : []) Use(arg, where, callee);
                        }
                        foreach (var p in callee.GetParameters()) Use(p.ParameterType, where, callee);
                        break;
                }
            }
        }
        return uses;
    }

    /// <summary>The named types inside a type: element types of arrays, pointers and refs, generic definitions and
    /// arguments, function pointer signatures. Generic parameters are not types of their own.</summary>
    static IEnumerable<Type> Parts(Type? type)
    {
        if (type is null || type.IsGenericParameter) return [];
        if (type.HasElementType) return Parts(type.GetElementType());
        if (type.IsFunctionPointer)
            return Parts(type.GetFunctionPointerReturnType()).Concat(type.GetFunctionPointerParameterTypes().SelectMany(Parts));
        if (type.IsConstructedGenericType)
            return Parts(type.GetGenericTypeDefinition()).Concat(type.GetGenericArguments().SelectMany(Parts));
        return [type];
    }
}

/// <summary>Reads the member and type tokens out of a method's IL and resolves them.</summary>
static class Il
{
    static readonly OpCode?[] OneByte = new OpCode?[256], TwoByte = new OpCode?[256];

    static Il()
    {
        foreach (var field in typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static))
        {
            var op = (OpCode)field.GetValue(null)!;
            var value = (ushort)op.Value;
            if (op.Size == 1) OneByte[value] = op;
            else TwoByte[value & 0xff] = op;
        }
    }

    /// <summary>The types, fields and methods named by the operands of call, callvirt, newobj, ldfld/stfld and the
    /// other field instructions, ldtoken, castclass, isinst, box/unbox, newarr, initobj, ldftn/ldvirtftn,
    /// constrained., sizeof, ldobj/stobj/cpobj, mkrefany/refanyval and the typed ldelem/stelem/ldelema.</summary>
    public static IEnumerable<MemberInfo> Operands(MethodBase method)
    {
        var il = method.GetMethodBody()?.GetILAsByteArray();
        if (il is null) yield break;
        var typeArguments = method.DeclaringType is { IsGenericType: true } d ? d.GetGenericArguments() : null;
        var methodArguments = method is MethodInfo { IsGenericMethod: true } g ? g.GetGenericArguments() : null;

        for (var i = 0; i < il.Length;)
        {
            var op = (il[i] == 0xFE ? TwoByte[il[i + 1]] : OneByte[il[i]])
                     ?? throw new InvalidOperationException($"Unknown opcode 0x{il[i]:X2} at IL_{i:X4} in {method.DeclaringType}.{method.Name}");
            i += op.Size;
            switch (op.OperandType)
            {
                case OperandType.InlineField or OperandType.InlineMethod or OperandType.InlineType or OperandType.InlineTok:
                    yield return method.Module.ResolveMember(BitConverter.ToInt32(il, i), typeArguments, methodArguments)!;
                    i += 4;
                    break;
                case OperandType.InlineSwitch:
                    i += 4 + 4 * BitConverter.ToInt32(il, i);
                    break;
                case OperandType.InlineI8 or OperandType.InlineR:
                    i += 8;
                    break;
                case OperandType.InlineVar:
                    i += 2;
                    break;
                case OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar:
                    i += 1;
                    break;
                case OperandType.InlineNone:
                    break;
                default: // InlineBrTarget, InlineI, InlineSig, InlineString, ShortInlineR
                    i += 4;
                    break;
            }
        }
    }
}
