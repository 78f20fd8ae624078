using Akka.Actor;
using Proxy.Actors.Classification;

namespace Proxy.Host.Classification;

public static class ClassifierBuilderExtensions
{
    /// <summary>
    /// Registers a classifier type under <paramref name="type"/>: a <c>Proxy:Classifiers:N</c> entry
    /// with <c>Type</c> set to that name is built by <paramref name="factory"/>, which reads the
    /// entry's own settings and returns the Props of a <see cref="ClassifierActor"/>.
    /// </summary>
    public static WebApplicationBuilder AddClassifier(this WebApplicationBuilder builder, string type, Func<ClassifierConfiguration, Props> factory) =>
        builder.AddClassifier(type, factory, screen: null);

    /// <summary>
    /// As <see cref="AddClassifier(WebApplicationBuilder, string, Func{ClassifierConfiguration, Props})"/>, with the
    /// type's screen: a cheap, thread-safe test of an answer that is false when the rule cannot match
    /// it, so such answers never reach the rule's actor (see <see cref="ClassifierSpec.Screen"/>).
    /// </summary>
    public static WebApplicationBuilder AddClassifier(this WebApplicationBuilder builder, string type, Func<ClassifierConfiguration, Props> factory, Func<IAnswerView, bool>? screen)
    {
        Types(builder.Services).Add(type, factory, screen: screen);
        return builder;
    }

    internal static ClassifierTypes Types(IServiceCollection services)
    {
        if (services.FirstOrDefault(d => d.ServiceType == typeof(ClassifierTypes))?.ImplementationInstance is ClassifierTypes types)
        {
            return types;
        }

        types = ClassifierTypes.CreateWithBuiltIns();
        services.AddSingleton(types);
        return types;
    }
}
